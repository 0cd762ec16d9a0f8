"""Command-line tools of the person who keeps the nightly job running (serve, schedule).

Each command registers itself with `set_defaults(handler=...)`; `cli.main` calls the handler,
which returns the exit status.
"""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any) -> None:
    """Add the operator's subcommands to the `qa-pipeline` parser."""
    _ = sub
