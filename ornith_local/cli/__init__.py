"""Command-line entry points: `ornith` and its subcommands."""
