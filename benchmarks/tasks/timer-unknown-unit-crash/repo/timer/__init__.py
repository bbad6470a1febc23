"""A kitchen timer for the terminal."""
