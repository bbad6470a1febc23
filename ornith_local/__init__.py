"""ornith-local: a coding agent that runs entirely on your own machine."""

__version__ = "0.1.0"
