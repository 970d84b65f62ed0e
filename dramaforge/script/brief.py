"""YAML briefs: ad and product videos with channels, characters and voice-over scenes."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dramaforge.errors import ScriptError
from dramaforge.schema import Aspect, Beat, Channel, Character, Language, Scene, Script
from dramaforge.script.detect import detect_language


class _Line(BaseModel):
    speaker: str
    text: str


class _Scene(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heading: str = ""
    visual: str | list[str] = ""
    action: str | list[str] = ""
    voiceover: str | list[str] = ""
    narration: str | list[str] = ""
    lines: list[_Line] = Field(default_factory=list)
    sfx: str | list[str] = ""
    music: str = ""


class _Character(BaseModel):
    name: str
    description: str = ""


class _Channel(BaseModel):
    name: str
    aspect: Aspect = "9:16"
    duration: float | None = Field(default=None, gt=0)


class Brief(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str = ""
    product: str = ""
    language: Language | None = None
    logline: str = ""
    message: str = ""
    points: list[str] = Field(default_factory=list)
    characters: list[_Character] = Field(default_factory=list)
    channels: list[_Channel] = Field(default_factory=list)
    scenes: list[_Scene] = Field(default_factory=list)
    music: str = ""


def _items(value: str | list[str]) -> list[str]:
    return [v for v in ([value] if isinstance(value, str) else value) if v and v.strip()]


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (the deepest one that exists)."""
    node, line = root, None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


def parse(text: str, source: str) -> Script:
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ScriptError(f"not valid YAML: {getattr(err, 'problem', err)}", path=source,
                          line=mark.line + 1 if mark else None) from err
    if not isinstance(data, dict):
        raise ScriptError("a brief is a YAML mapping with title, scenes or message", path=source)
    try:
        brief = Brief.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ScriptError(f"field '{field}': {first['msg']}", path=source,
                          line=_line_of(root, tuple(first["loc"]))) from err
    return _to_script(brief, text, source)


def _to_script(brief: Brief, text: str, source: str) -> Script:
    scenes: list[Scene] = []
    for i, s in enumerate(brief.scenes, start=1):
        beats = [Beat(kind="action", text=t) for t in _items(s.visual) + _items(s.action)]
        beats += [Beat(kind="music", text=s.music or brief.music)] if (s.music or brief.music) else []
        beats += [Beat(kind="narration", text=t) for t in _items(s.voiceover) + _items(s.narration)]
        beats += [Beat(kind="dialogue", speaker=ln.speaker, text=ln.text) for ln in s.lines]
        beats += [Beat(kind="sfx", text=t) for t in _items(s.sfx)]
        scenes.append(Scene(index=i, heading=s.heading or brief.product or brief.title,
                            location=s.heading, beats=beats))
    if not scenes:
        points = brief.points or ([brief.message] if brief.message else [])
        for i, point in enumerate(points, start=1):
            beats = [Beat(kind="action", text=point), Beat(kind="narration", text=point)]
            if brief.music:
                beats.insert(0, Beat(kind="music", text=brief.music))
            scenes.append(Scene(index=i, heading=brief.product or brief.title, beats=beats))
    if not scenes:
        raise ScriptError("the brief has no scenes and no message or points to narrate",
                          path=source)
    speakers = [b.speaker for s in scenes for b in s.beats if b.speaker]
    characters = [Character(name=c.name, description=c.description) for c in brief.characters]
    characters += [Character(name=n) for n in dict.fromkeys(speakers)
                   if n not in {c.name for c in characters}]
    return Script(
        title=brief.title or brief.product or source.rsplit("/", 1)[-1].split(".")[0],
        language=brief.language or detect_language(text),
        format="yaml",
        characters=characters,
        scenes=scenes,
        channels=[Channel(name=c.name, aspect=c.aspect, duration=c.duration) for c in brief.channels],
        source=source,
        logline=brief.logline or brief.message,
    )
