"""The flags every rendering command shares, defined once, and the Settings they make.

``@settings_flags(...)`` adds the named groups of options to a typer command and hands the
command one ``settings`` built from ``dramaforge.toml``, the environment and those flags, so
``render``, ``chat``, ``plan``, ``batch`` and ``rerender`` cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dramaforge.config import BACKEND_KINDS, Settings
from dramaforge.schema import Aspect, Language, Resolution, Subtitles

F = TypeVar("F", bound=Callable[..., Any])

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
VoiceOpt = Annotated[
    list[str] | None,
    typer.Option(help="NAME=sample.wav (clone) or NAME=words (design); repeatable."),
]
OwnVoiceOpt = Annotated[
    bool, typer.Option(help="Affirm you own the --voice samples: needed to clone them.")
]

_BACKEND = Annotated[str | None, typer.Option(help="Backend as provider:model.")]
_LIPSYNC = Annotated[
    str | None,
    typer.Option(help="Lip-sync backend as provider:model, or none (default: the video model's)."),
]
FLAGS: dict[str, Any] = {
    "aspect": Annotated[Aspect | None, typer.Option(help="9:16, 16:9 or 1:1.")],
    "resolution": Annotated[Resolution | None, typer.Option(help="360p, 480p, 720p or 1080p.")],
    "lang": Annotated[
        Language | None, typer.Option("--lang", help="zh or en (default: detected).")
    ],
    "max_takes": Annotated[int | None, typer.Option(help="Takes per shot before giving up.")],
    "subtitles": Annotated[
        Subtitles | None,
        typer.Option(help="zh+en or en+zh: bilingual subtitles (default: the script's language)."),
    ],
    "budget": Annotated[
        float | None, typer.Option(help="Stop before paid work would cost more than this.")
    ],
    **{kind: _LIPSYNC if kind == "lipsync" else _BACKEND for kind in BACKEND_KINDS},
}
FRAME = ("aspect", "resolution", "lang", "max_takes")
BACKENDS: tuple[str, ...] = BACKEND_KINDS
"""A flag per backend kind (``--director``, ``--image``, ... ``--lipsync``)."""
RENDER_FLAGS = (*FRAME, "subtitles")
RENDER_NAMES = {"aspect": "aspect", "resolution": "resolution", "lang": "language"}


def build_settings(**flags: Any) -> Settings:
    """Settings from dramaforge.toml and the environment, with the given flags on top."""
    given = {k: v for k, v in flags.items() if v is not None}
    render = {RENDER_NAMES.get(k, k): v for k, v in given.items() if k in RENDER_FLAGS}
    backends = {k: v for k, v in given.items() if k in BACKEND_KINDS}
    budget = {"budget": given["budget"]} if "budget" in given else {}
    return Settings().with_(render=render, backends=backends, **budget)


def with_backend(settings: Settings, kind: str, spec: str) -> Settings:
    """``settings`` with the ``kind`` backend set to ``spec`` (a flag a command reads itself)."""
    return settings.with_(backends={kind: spec})


def settings_flags(*names: str) -> Callable[[F], F]:
    """Add the options ``names`` (from ``FLAGS``) to a command that takes ``settings``."""
    unknown = [n for n in names if n not in FLAGS]
    if unknown:
        raise ValueError(f"no such flags: {unknown}")

    def wrap(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        added = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=FLAGS[n], default=None)
            for n in names
        ]

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            flags = {n: kwargs.pop(n) for n in names}
            return command(settings=build_settings(**flags), **kwargs)

        run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        run.__annotations__ = {
            **{p.name: p.annotation for p in own},
            **{p.name: p.annotation for p in added},
        }
        return run  # type: ignore[return-value]

    return wrap
