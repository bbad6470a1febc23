"""The sandbox every model-written command runs in: tiers, probing, and the runner."""

from ornith_local.sandbox.probe import TierProbe, active_tier, probe_tiers

__all__ = ["TierProbe", "active_tier", "probe_tiers"]
