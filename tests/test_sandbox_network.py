"""--allow-network's own network namespace (sandbox/network.py): what happens when it cannot start, and that
nothing it starts outlives the command. The attacks on the host's loopback are in test_sandbox_escape_net.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from ornith_local.sandbox import Limits, SandboxError, TierSandbox, network, tiers
from ornith_local.sandbox.probe import probe_tiers

pytestmark = pytest.mark.skipif(not tiers.private_network(), reason="no slirp4netns, /dev/net/tun or namespaces here")


def _bwrap() -> TierSandbox:
    if not any(probe.name == "bwrap" and probe.works for probe in probe_tiers()):
        pytest.skip("the bwrap tier does not work here")
    return TierSandbox(tiers.make_tier("bwrap"), timeout_s=20, limits=Limits(), allow_network=True)


def test_a_network_that_cannot_start_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(network.shutil, "which",
                        lambda name: "/bin/false" if name == "slirp4netns" else real_which(name))
    with pytest.raises(SandboxError) as error:
        _bwrap().run("touch ran", workspace=tmp_path)
    assert "slirp4netns did not start" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "ran").exists()  # not run on the host's network instead


def test_the_network_ends_with_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[network.PrivateNetwork] = []
    real_open = network.open_private_network

    def keep() -> network.PrivateNetwork:
        opened.append(real_open())
        return opened[-1]

    monkeypatch.setattr(tiers, "open_private_network", keep)
    result = _bwrap().run([sys.executable, "-c", "print('ok')"], workspace=tmp_path)
    assert result.exit_code == 0 and result.stdout.strip() == "ok"
    assert len(opened) == 1
    assert opened[0].slirp.poll() is not None and opened[0].holder.poll() is not None


def test_doctor_says_which_network_allow_network_gives() -> None:
    assert "loopback services stay unreachable" in network.network_guarantee(True)
    assert "shares the host's network, loopback services included" in network.network_guarantee(False)
    details = " ".join(probe.detail for probe in probe_tiers() if probe.works and probe.name in {"bwrap", "landlock"})
    assert network.network_guarantee(True) in details
