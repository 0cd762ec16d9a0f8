"""Command-line tools of the data officers (issues, exceptions, reports).

Each command registers itself with `set_defaults(handler=...)`; `cli.main` calls the handler,
which returns the exit status.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Add the data officers' subcommands to the `qa-pipeline` parser."""
    _ = (sub, argparse)
