"""What every command shares: the typer app, the two consoles, and the error edge.

Errors become one clear line and an exit code; a refusing machine (read-only or full disk, a
folder that cannot be made) too, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from dramaforge.errors import DramaforgeError, machine_error

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Script in, finished short drama out."
)
console = Console(stderr=True)
out_console = Console()
T = TypeVar("T")


def guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except DramaforgeError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None
    except OSError as err:  # every refusal of the machine, a path that cannot be made too
        problem = machine_error(err)
        console.print(
            f"[bold red]error:[/] {escape(str(problem))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(problem.exit_code) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: run the same command with --resume to continue")
        raise typer.Exit(130) from None
