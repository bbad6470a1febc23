"""Networking helpers: retries with exponential backoff."""
