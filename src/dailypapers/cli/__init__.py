"""The ``dailypapers`` command: a thin layer over the library; ``--help`` is the reference."""

from __future__ import annotations

from dailypapers.cli.main import cli, main

__all__ = ["cli", "main"]
