"""Escape suite, other processes and the network: signals, ptrace, TCP/UDP, Unix sockets (see sandbox_support).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import PY, TIERS, Ctx, bare, make_ctx, start_stand_in

from ornith_local.sandbox import network, tiers


@pytest.fixture(params=TIERS)
def ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    return make_ctx(request, tmp_path, monkeypatch)


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    yield from start_stand_in()


def test_signal_agent(ctx: Ctx, stand_in: subprocess.Popen[bytes]) -> None:
    ctx.run(f"echo started; kill -KILL {stand_in.pid}")
    time.sleep(0.1)
    assert stand_in.poll() is None
    bare(f"kill -KILL {stand_in.pid}")
    assert stand_in.wait(5) == -9


PTRACE = """
import ctypes, os, signal, sys
print("started", flush=True)
libc = ctypes.CDLL(None, use_errno=True)
target, child = int(sys.argv[1]), 0
if not target:
    child = os.fork()
    if child == 0:
        os.close(1); os.close(2); signal.pause(); os._exit(0)
    target = child
print("attach", libc.ptrace(16, target, 0, 0), flush=True)
if child:
    os.kill(child, 9)
"""


def test_ptrace_agent(ctx: Ctx, stand_in: subprocess.Popen[bytes]) -> None:
    result = ctx.run([PY, "-c", PTRACE, str(stand_in.pid)])
    assert "attach -1" in result.stdout, result
    # Control: the same code attaches to a child of its own outside the sandbox.
    assert "attach 0" in bare([PY, "-c", PTRACE, "0"]).stdout


def _serve_tcp(kind: int) -> tuple[socket.socket, list[bytes]]:
    server = socket.socket(socket.AF_INET, kind)
    server.bind(("127.0.0.1", 0))
    received: list[bytes] = []
    if kind == socket.SOCK_STREAM:
        server.listen()

    def loop() -> None:
        while True:
            try:
                if kind == socket.SOCK_STREAM:
                    conn, _ = server.accept()
                    conn.sendall(b"pong")
                    conn.close()
                else:
                    received.append(server.recv(100))
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return server, received


CLIENT = """
import socket, sys
print("started", flush=True)
family = {"inet": socket.AF_INET, "unix": socket.AF_UNIX}[sys.argv[1]]
kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
address = sys.argv[3]
if address.startswith("@"):
    address = "\\0" + address[1:]
elif family == socket.AF_INET and address != "none":
    address = ("127.0.0.1", int(address))
try:
    s = socket.socket(family, kind)
    print("created", flush=True)
    if sys.argv[3] == "none":
        sys.exit(0)
    if kind == socket.SOCK_DGRAM:
        s.sendto(b"ping", address); print("sent")
    else:
        s.connect(address); print(s.recv(10).decode())
except OSError as error:
    print("blocked", error)
"""


def _host_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: --allow-network as it was, sharing the host's network (what a machine without slirp4netns gets)."""
    monkeypatch.setattr(tiers, "private_network", lambda: False)


needs_private_network = pytest.mark.skipif(
    not tiers.private_network(), reason="no slirp4netns (or no /dev/net/tun, or no namespaces) here: "
    "--allow-network shares the host's network, as `ornith doctor` says")


def test_tcp_loopback_without_network(ctx: Ctx) -> None:
    server, _ = _serve_tcp(socket.SOCK_STREAM)
    port = str(server.getsockname()[1])
    assert "pong" not in ctx.run([PY, "-c", CLIENT, "inet", "tcp", port]).stdout
    server.close()


@needs_private_network
def test_allow_network_keeps_host_loopback_out(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service on the host's 127.0.0.1 (a database, a dev server, a token helper) holding a secret."""
    server, _ = _serve_tcp(socket.SOCK_STREAM)
    port = str(server.getsockname()[1])
    attack = ctx.run([PY, "-c", CLIENT, "inet", "tcp", port], allow_network=True)
    assert "created" in attack.stdout and "pong" not in attack.stdout, attack  # a socket, but no way to the host
    _host_network(monkeypatch)
    assert "pong" in ctx.run([PY, "-c", CLIENT, "inet", "tcp", port], allow_network=True).stdout  # the control
    server.close()


@needs_private_network
def test_allow_network_keeps_host_loopback_out_udp(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    server, received = _serve_tcp(socket.SOCK_DGRAM)
    port = str(server.getsockname()[1])
    ctx.run([PY, "-c", CLIENT, "inet", "udp", port], allow_network=True)
    time.sleep(0.3)
    assert received == []
    _host_network(monkeypatch)
    ctx.run([PY, "-c", CLIENT, "inet", "udp", port], allow_network=True)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert received == [b"ping"]
    server.close()


def _outside_address() -> str | None:
    """This machine's address on its default route (no packet is sent: a UDP connect only picks the route)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


REACH = """
import socket, sys
print("started", flush=True)
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); print(s.recv(10).decode())
except OSError as error:
    print("blocked", error)
"""


@needs_private_network
def test_allow_network_reaches_out(ctx: Ctx) -> None:
    """The network is really there: a server on this machine's outside address answers through slirp4netns."""
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen()

    def answer() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            conn.sendall(b"pong")
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    port = str(server.getsockname()[1])
    assert "pong" not in ctx.run([PY, "-c", REACH, address, port]).stdout  # no network asked: none
    assert "pong" in ctx.run([PY, "-c", REACH, address, port], allow_network=True).stdout
    server.close()


@needs_private_network
def test_allow_network_resolver_when_the_host_uses_a_loopback_one(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """systemd-resolved's 127.0.0.53 cannot be reached from the command's namespace: it gets slirp's resolver."""
    monkeypatch.setattr(network, "_loopback_resolver", lambda: True)
    result = ctx.run("echo started; cat /etc/resolv.conf", allow_network=True)
    assert result.stdout.split("\n", 1)[1].strip() == f"nameserver {network.SLIRP_DNS}", result
    monkeypatch.setattr(network, "_loopback_resolver", lambda: False)
    assert network.SLIRP_DNS not in ctx.run("echo started; cat /etc/resolv.conf", allow_network=True).stdout


def test_tcp_outside(ctx: Ctx) -> None:
    # No traffic leaves loopback: the socket is only created, never connected.
    blocked = ctx.run([PY, "-c", CLIENT, "inet", "tcp", "none"])
    assert "created" not in blocked.stdout and "Operation not permitted" in blocked.stdout
    assert "created" in ctx.run([PY, "-c", CLIENT, "inet", "tcp", "none"], allow_network=True).stdout


def test_udp_without_network(ctx: Ctx) -> None:
    server, received = _serve_tcp(socket.SOCK_DGRAM)
    port = str(server.getsockname()[1])
    ctx.run([PY, "-c", CLIENT, "inet", "udp", port])
    time.sleep(0.2)
    assert received == []
    server.close()


def _serve_unix(address: str) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen()

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
                conn.sendall(b"pong")
                conn.close()
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return server


def test_unix_path(ctx: Ctx) -> None:
    path = ctx.workspace / "s.sock"  # even a socket inside the workspace is refused by default
    server = _serve_unix(str(path))
    assert "pong" not in ctx.run([PY, "-c", CLIENT, "unix", "tcp", str(path)]).stdout
    assert "pong" in ctx.run([PY, "-c", CLIENT, "unix", "tcp", str(path)], allow_unix_sockets=True).stdout
    server.close()


def test_unix_abstract(ctx: Ctx) -> None:
    name = f"ornith-test-{uuid.uuid4().hex}"
    server = _serve_unix("\0" + name)
    assert "pong" not in ctx.run([PY, "-c", CLIENT, "unix", "tcp", "@" + name], allow_unix_sockets=True).stdout
    assert "pong" in bare([PY, "-c", CLIENT, "unix", "tcp", "@" + name]).stdout
    server.close()

