"""Write the docs site's reference pages from the code, so they cannot drift from it.

    python docs/gen_reference.py          # write docs/reference/ (cli.md, settings.md and
                                          # settings.schema.json)
    python docs/gen_reference.py --check  # write them to a temp folder; exit 1 if any differs

The command reference is read from the typer app itself (each command's usage, help and
options, as ``--help`` shows them); the settings reference from ``Settings``: every section and
field with its type, default, environment variable and docstring, plus the JSON schema
(``Settings.model_json_schema()``) for editors that complete ``dramaforge.toml``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import itertools
import json
import os
import sys
import tempfile
import textwrap
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

DOCS = Path(__file__).resolve().parent
HEADER = "<!-- Made by docs/gen_reference.py from the code; to change it: `make reference`. -->"


# -- the commands ---------------------------------------------------------------------------

WIDTH = 100


def cli_page() -> str:
    """Every command's ``--help``, as a user sees it (plain text, 100 columns)."""
    import typer
    from typer.testing import CliRunner

    from dramaforge.cli.app import app

    group = typer.main.get_command(app)
    names = list(getattr(group, "commands", {}))
    lines = [
        HEADER,
        "",
        "# Commands",
        "",
        "Every command's `--help`. `python -m dramaforge ...` is the same program without the",
        "script on `PATH`. Errors are one line with an exit code: 2 for a bad script, 3 for",
        "configuration or a machine that refuses (a read-only or full output folder, a missing",
        "ffmpeg), 4 for a budget stop, 1 otherwise.",
        "",
        "```text",
        _help(CliRunner(), app, []),
        "```",
    ]
    for name in names:
        lines += ["", f"## {name}", "", "```text", _help(CliRunner(), app, [name]), "```"]
    return "\n".join(lines) + "\n"


def _help(runner: Any, app: Any, args: list[str]) -> str:
    result = runner.invoke(app, [*args, "--help"], prog_name="dramaforge", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise SystemExit(f"dramaforge {' '.join(args)} --help failed:\n{result.output}")
    return "\n".join(line.rstrip() for line in result.output.strip().splitlines())


# -- the settings ---------------------------------------------------------------------------


def settings_page() -> str:
    from dramaforge.config import Settings

    lines = [
        HEADER,
        "",
        "# Settings",
        "",
        _paragraphs(sys.modules[Settings.__module__].__doc__ or ""),
        "",
        "Each table is a section of `dramaforge.toml`; a field's environment variable is",
        "beside it. `dramaforge doctor` shows every resolved value and where it came from. The",
        "JSON schema of the whole file is [settings.schema.json](settings.schema.json).",
    ]
    top: list[tuple[str, FieldInfo]] = []
    for name, field in Settings.model_fields.items():
        model = _model_of(field.annotation)
        if model is None:
            top.append((name, field))
            continue
        lines += ["", f"## [{name}]", ""]
        doc = _field_doc(Settings, name, field) or model.__dict__.get("__doc__") or ""
        if doc:
            lines += [_paragraphs(doc), ""]
        lines += _field_table(model, f"DRAMAFORGE_{name.upper()}__")
    lines += [
        "",
        "## Top level",
        "",
        "Keys outside any section, at the top of `dramaforge.toml`.",
        "",
    ]
    lines += _field_rows(Settings, top, "DRAMAFORGE_")
    return "\n".join(lines).rstrip() + "\n"


def schema_file() -> str:
    from dramaforge.config import Settings

    return (
        json.dumps(Settings.model_json_schema(), indent=2, ensure_ascii=False, sort_keys=True)
        + "\n"
    )


def _field_table(model: type[BaseModel], env: str) -> list[str]:
    return _field_rows(model, list(model.model_fields.items()), env)


def _field_rows(model: type[BaseModel], fields: list[tuple[str, FieldInfo]], env: str) -> list[str]:
    lines = [
        "| key | type | default | environment | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in fields:
        doc = _field_doc(model, name, field)
        lines.append(
            f"| `{name}` | {_cell(_type_name(field.annotation))} | {_field_default(field)} "
            f"| `{env}{name.upper()}` | {_cell(doc)} |"
        )
    return lines


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _field_default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        factory = field.default_factory
        if factory in (dict, list):
            return ""
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return ""
        value: Any = factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None or value == {} or value == []:
        return ""
    if isinstance(value, Path):
        home = str(Path.home())
        text = str(value)
        return f"`{'~' + text[len(home) :] if text.startswith(home) else text}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{json.dumps(value) if isinstance(value, dict) else value}`"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _field_doc(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    if field.description:
        return field.description
    for cls in model.__mro__:
        doc = _attribute_docs(cls).get(name)
        if doc:
            return doc
    return ""


def _attribute_docs(cls: type) -> dict[str, str]:
    """The string right under each annotated attribute in ``cls``'s body (its docstring)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    statements = body.body
    for here, after in itertools.pairwise(statements):
        if (
            isinstance(here, ast.AnnAssign)
            and isinstance(here.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[here.target.id] = inspect.cleandoc(after.value.value)
    return docs


# -- writing and checking -------------------------------------------------------------------


def _paragraphs(text: str) -> str:
    """Docstring text as Markdown: paragraphs kept, lines inside one joined."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    text = "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
    return text.replace("``", "`")


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, reStructuredText's double backticks as one."""
    return " ".join(text.split()).replace("``", "`").replace("|", "\\|")


def pages() -> Iterator[tuple[str, str]]:
    yield "reference/cli.md", cli_page()
    yield "reference/settings.md", settings_page()
    yield "reference/settings.schema.json", schema_file()


def write(root: Path) -> list[Path]:
    written = []
    for name, text in pages():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(root: Path = DOCS) -> list[str]:
    """A diff for each generated page that differs from what the code makes now."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for fresh in write(Path(tmp)):
            name = fresh.relative_to(tmp).as_posix()
            kept = root / name
            old = kept.read_text(encoding="utf-8").splitlines() if kept.exists() else []
            new = fresh.read_text(encoding="utf-8").splitlines()
            if old != new:
                diff = difflib.unified_diff(old, new, f"docs/{name}", "now", lineterm="", n=1)
                problems.append("\n".join(list(diff)[:40]))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a page is out of date")
    args = parser.parse_args()
    # The same pages on every machine: no user config, defaults shown for a plain user.
    os.chdir(tempfile.gettempdir())
    for key in list(os.environ):
        if key.startswith(("DRAMAFORGE_", "DASHSCOPE_", "OPENAI_")):
            del os.environ[key]
    os.environ.pop("XDG_CACHE_HOME", None)
    os.environ["TYPER_USE_RICH"] = "0"  # plain --help text, read when typer is imported
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("docs/reference is out of date: run `make reference`", file=sys.stderr)
            return 1
        return 0
    for path in write(DOCS):
        print(path.relative_to(DOCS.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
