"""YAML briefs: ad and product videos with channels, characters and voice-over scenes.

A brief is validated with pydantic so a mistake is reported as the field and the YAML line it
sits on, not as a traceback. Beats keep the order the writer gave a scene's keys in, and each
beat points back at its YAML line. A brief with no scenes but a message or selling points
becomes one narrated scene per point.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dramaforge.errors import ScriptError
from dramaforge.modes.briefs import meanings, normalize_brief
from dramaforge.schema import Aspect, Beat, BeatKind, Channel, Character, Language, Scene, Script
from dramaforge.script import bounded_yaml
from dramaforge.script.clean import escape_controls
from dramaforge.script.detect import detect_language
from dramaforge.script.finish import finish

log = logging.getLogger(__name__)
Text = str | list[str]
HINT = "give the brief a 'scenes' list, or a 'message' or 'points' to narrate"
SCENE_KEYS: dict[str, BeatKind] = {
    "music": "music",
    "visual": "action",
    "action": "action",
    "voiceover": "narration",
    "narration": "narration",
    "lines": "dialogue",
    "sfx": "sfx",
}


class BriefLine(BaseModel):
    """A spoken line; ``"Mia: Still hot."`` is accepted as shorthand."""

    model_config = ConfigDict(extra="forbid")
    speaker: str
    text: str
    parenthetical: str | None = None

    @field_validator("speaker", "text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


class BriefScene(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heading: str = ""
    visual: Text = ""
    action: Text = ""
    voiceover: Text = ""
    narration: Text = ""
    lines: list[BriefLine] = Field(default_factory=list)
    sfx: Text = ""
    music: str = ""

    @field_validator("lines", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_split_line(v) if isinstance(v, str) else v for v in value]


class BriefCharacter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""


class BriefChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    aspect: Aspect = "9:16"
    duration: float | None = Field(default=None, gt=0)
    script: str = ""
    """This version's own script text, rendered as written instead of fitted from the brief."""

    @field_validator("aspect", mode="before")
    @classmethod
    def _sexagesimal(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted ``9:16`` as the base-60 number 556; turn it back."""
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return "{}:{}".format(*divmod(value, 60))
        return value

    @field_validator("duration", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        """``15s`` means 15 seconds."""
        if isinstance(value, str) and value.strip().lower().endswith("s"):
            return value.strip()[:-1]
        return value


class Brief(BaseModel):
    """The top level. Unknown keys (audience, tone, brand...) are allowed and ignored."""

    model_config = ConfigDict(extra="allow")
    title: str = ""
    product: str = ""
    language: Language | None = None
    logline: str = ""
    style: str = ""
    message: str = ""
    points: list[str] = Field(default_factory=list)
    selling_points: list[str] = Field(default_factory=list)
    music: str = ""
    characters: list[BriefCharacter] = Field(default_factory=list)
    channels: list[BriefChannel] = Field(default_factory=list)
    scenes: list[BriefScene] = Field(default_factory=list)


def _split_line(value: str) -> dict[str, str] | str:
    speaker, sep, text = value.replace("：", ":").partition(":")
    return {"speaker": speaker, "text": text} if sep else value


def _items(value: Text) -> list[str]:
    return [v.strip() for v in ([value] if isinstance(value, str) else value) if v and v.strip()]


class _Lines:
    """1-based YAML line numbers by path, from the composed node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def at(self, *loc: int | str) -> int | None:
        """The line of the node at ``loc``, or of the deepest node on the way that exists."""
        node, line = self.root, None
        for key in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if key in meanings(k.value)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                node = node.value[key] if key < len(node.value) else None
            else:
                node = None
        return node.start_mark.line + 1 if node is not None else line


def parse(text: str, source: str) -> Script:
    data, root = bounded_yaml.load(text, source)
    if not isinstance(data, dict):
        raise ScriptError(
            f"a brief is a YAML mapping of keys such as title and scenes; {HINT}", path=source
        )
    lines = _Lines(root)
    # versions:, duration_s:, ratio:, sentence scenes, channel:/平台: names, 时长/比例 ...
    data = normalize_brief(data, warn=lambda text: log.warning("%s: %s", source, text))
    try:
        brief = Brief.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        field = escape_controls(".".join(str(p) for p in loc))[:80]
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown field; check its spelling against examples/product_ad.en.yaml"
        raise ScriptError(f"field '{field}': {msg}", path=source, line=lines.at(*loc)) from err
    scenes = _scenes(brief, data, lines) or _point_scenes(brief, lines)
    return finish(
        text=text,
        source=source,
        format="yaml",
        scenes=scenes,
        characters=[Character(name=c.name, description=c.description) for c in brief.characters],
        title=brief.title or brief.product,
        hint=HINT,
        language=brief.language or detect_language(" ".join(_strings(data))),
        channels=[
            Channel(name=c.name, aspect=c.aspect, duration=c.duration, script=c.script)
            for c in brief.channels
        ],
        logline=brief.logline or brief.message,
        style=brief.style,
    )


def _scenes(brief: Brief, data: dict[str, Any], lines: _Lines) -> list[Scene]:
    """Scenes as written; beats follow the order of each scene's keys."""
    scenes: list[Scene] = []
    for i, scene in enumerate(brief.scenes):
        raw = data["scenes"][i]
        keys = [k for k in raw if k in SCENE_KEYS] if isinstance(raw, dict) else []
        if not scene.music and brief.music:
            keys.insert(0, "music")
        beats: list[Beat] = []
        for key in keys:
            beats += _beats(scene, key, brief, lines, i)
        scenes.append(
            Scene(
                index=i + 1,
                heading=scene.heading or brief.product or brief.title,
                location=scene.heading,
                beats=beats,
                source_line=lines.at("scenes", i),
            )
        )
    return scenes


def _beats(scene: BriefScene, key: str, brief: Brief, lines: _Lines, i: int) -> list[Beat]:
    """The beats of one key of scene ``i``, each on the YAML line of its own item."""
    if key == "lines":
        return [
            Beat(
                kind="dialogue",
                speaker=ln.speaker,
                text=ln.text,
                parenthetical=ln.parenthetical,
                source_line=lines.at("scenes", i, "lines", j),
            )
            for j, ln in enumerate(scene.lines)
        ]
    if key == "music" and not scene.music:
        return [Beat(kind="music", text=brief.music, source_line=lines.at("music"))]
    value: Text = getattr(scene, key)
    kind = SCENE_KEYS[key]
    return [
        Beat(kind=kind, text=t, source_line=lines.at("scenes", i, key, j))
        for j, t in enumerate(_items(value))
    ]


def _point_scenes(brief: Brief, lines: _Lines) -> list[Scene]:
    """No scenes: one narrated scene per selling point, or one for the message."""
    if brief.points or brief.selling_points:
        key = "points" if brief.points else "selling_points"
        points = [(p, lines.at(key, j)) for j, p in enumerate(brief.points or brief.selling_points)]
    else:
        points = [(brief.message, lines.at("message"))] if brief.message.strip() else []
    heading = brief.product or brief.title
    scenes = []
    for i, (point, line) in enumerate(points, start=1):
        beats = [Beat(kind="music", text=brief.music, source_line=lines.at("music"))]
        beats = beats if brief.music else []
        visual = f"{brief.product}: {point}" if brief.product else point
        beats += [
            Beat(kind="action", text=visual, source_line=line),
            Beat(kind="narration", text=point, source_line=line),
        ]
        scenes.append(Scene(index=i, heading=heading, beats=beats, source_line=line))
    return scenes


def _strings(data: Any) -> Iterator[str]:
    """Every string value in the brief (not the keys), for guessing its language."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)
