"""The command line: render, plan, batch, chat, rerender, export, mcp, studio, doctor, adapt.

``app`` is the entry point; each command lives in the module of its kind and registers itself
on the shared app when imported here.
"""

from __future__ import annotations

# Importing a command module registers its commands; --help lists them in this order.
from dramaforge.cli import render  # noqa: F401  # isort: skip
from dramaforge.cli import direct  # noqa: F401  # isort: skip
from dramaforge.cli import doors  # noqa: F401  # isort: skip
from dramaforge.cli import adapt  # noqa: F401  # isort: skip
from dramaforge.cli import cluster  # noqa: F401  # isort: skip
from dramaforge.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - entry point
    app()
