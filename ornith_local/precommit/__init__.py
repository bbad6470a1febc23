"""Pre-commit checks with fix suggestions."""
