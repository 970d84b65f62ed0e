"""What every parser does last: check the scenes, settle the cast and title, build the Script.

Kept in one place so the four formats agree on the rules the rest of the pipeline relies on:
scene indexes count from 1, characters appear once in order of appearance, and a script with
nothing to film is refused here with a hint in the words of its own format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

from dramaforge.errors import ScriptError
from dramaforge.schema import Channel, Character, Language, Scene, Script, ScriptFormat
from dramaforge.script.clean import clean_script, clean_text
from dramaforge.script.detect import detect_language

# A ``# key: value`` line (``# Render: dramaforge render ...``) is a note, never a title.
_KEYED_NOTE = re.compile(r"^#+\s*(?P<key>[^\s:：]{1,16})\s*[:：]\s*\S")
_TITLE_KEYS = {"title", "标题", "剧名", "片名"}


def title_from_source(source: str) -> str:
    """The file name without its suffixes, for scripts that never say their title."""
    name = PurePath(source).name.split(".")[0]
    return "" if name.startswith("<") else name


def heading_title(line: str) -> str | None:
    """The title a ``# ...`` line gives, or None when it is a keyed note such as the render
    command that example headers carry."""
    keyed = _KEYED_NOTE.match(line)
    if keyed and keyed.group("key").lower() not in _TITLE_KEYS:
        return None
    title = re.sub(r"^#+\s*", "", line).strip().strip("*")
    return re.sub(r"^(?:title|标题|剧名|片名)\s*[:：]\s*", "", title, flags=re.IGNORECASE) or None


def _bare_title(title: str) -> str:
    """``《重逢》`` -> ``重逢``: title marks are typography."""
    title = title.strip()
    if title.startswith("《") and title.endswith("》") and title.count("《") == 1:
        return title[1:-1].strip()
    return title


def merge_characters(declared: Iterable[Character], speakers: Iterable[str]) -> list[Character]:
    """Declared characters first, then undeclared speakers, each name once.

    A later mention with a description fills in an earlier one without, so a cast list and
    an introduction in the action both count.
    """
    cast: dict[str, Character] = {}
    for person in declared:
        known = cast.get(person.name)
        if known is None:
            cast[person.name] = person
        elif person.description and not known.description:
            cast[person.name] = known.model_copy(update={"description": person.description})
    for name in speakers:
        if name not in cast and (full := _long_form(name, cast)) is not None:
            # 人物：护士小王（24岁） then 小王：… — one person, called as the lines call her
            cast = {(name if k == full else k): v for k, v in cast.items()}
            cast[name] = cast[name].model_copy(update={"name": name})
        cast.setdefault(name, Character(name=name))
    return list(cast.values())


def _long_form(name: str, cast: dict[str, Character]) -> str | None:
    """The one declared name that ends with ``name`` (``护士小王`` for ``小王``), if exactly one."""
    if len(name) < 2:
        return None
    matches = [k for k in cast if k.endswith(name) and k != name]
    return matches[0] if len(matches) == 1 else None


def finish(
    *,
    text: str,
    source: str,
    format: ScriptFormat,
    scenes: list[Scene],
    characters: Iterable[Character] = (),
    title: str = "",
    hint: str,
    language: Language | None = None,
    channels: Iterable[Channel] = (),
    logline: str = "",
    style: str = "",
) -> Script:
    """Build the Script, or raise ScriptError("no scenes found: <hint>") if nothing is filmable.

    ``hint`` says, in the format's own terms, how to start a scene.
    """
    if not any(scene.beats for scene in scenes):
        raise ScriptError(f"no scenes found: {hint}", path=source)
    scenes = [s.model_copy(update={"index": i}) for i, s in enumerate(scenes, start=1)]
    speakers = [b.speaker for s in scenes for b in s.beats if b.speaker]
    script = Script(
        title=clean_text(_bare_title(title) or title_from_source(source) or "untitled"),
        language=language or detect_language(text),
        format=format,
        characters=merge_characters(characters, speakers),
        scenes=scenes,
        channels=list(channels),
        source=source,
        logline=clean_text(logline.strip()),
        style=clean_text(style.strip()),
    )
    # Text parsers read text parse_text already cleaned; a brief's values can spell controls
    # with YAML escapes ("\e[2J"), so its fields are cleaned one by one.
    return clean_script(script) if format == "yaml" else script
