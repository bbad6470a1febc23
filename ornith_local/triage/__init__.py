"""Offline repo triage."""
