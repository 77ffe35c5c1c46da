"""The ``videorec`` command line: one module per group of sub-commands, no logic of its own."""

from .main import main

__all__ = ["main"]
