"""The self-scaffolding agent: scaffold, runtime, guard, session."""
