"""The guard: what distrusts a run (the monitor, the judge) and what asks the user first (approvals).

Shared by the agent loop and precommit; it sits below the agent and imports nothing from it.
"""
