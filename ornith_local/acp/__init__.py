"""`ornith acp`: the agent for editors, over the Agent Client Protocol (entry-point layer, beside cli and tui)."""

from __future__ import annotations

from ornith_local.acp.server import serve

__all__ = ["serve"]
