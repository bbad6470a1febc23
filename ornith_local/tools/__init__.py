"""The agent's tools: files, edits, search, repo map, tests, git."""
