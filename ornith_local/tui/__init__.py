"""The Textual TUI: `ornith` with no subcommand. It drives the same runtime as `ornith run`."""

from __future__ import annotations

from ornith_local.tui.session import TuiOptions


def run_tui(options: TuiOptions) -> int:
    """Open the app in this terminal; returns the exit code."""
    from ornith_local.tui.app import OrnithApp
    from ornith_local.tui.session import default_backend_factory

    app = OrnithApp(options, default_backend_factory(options))
    result = app.run()
    return int(result or 0) if app.return_code is None else app.return_code


__all__ = ["TuiOptions", "run_tui"]
