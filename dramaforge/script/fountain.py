"""Fountain screenplays (https://fountain.io): headings, action, cues, parentheticals, dialogue."""

from __future__ import annotations

import re

from dramaforge.errors import ScriptError
from dramaforge.schema import Beat, Character, Scene, Script
from dramaforge.script.detect import detect_language

HEADING = re.compile(r"^(?:\.(?!\.)(?P<forced>.+)|(?P<h>(?:INT|EXT|EST|INT\./EXT|INT/EXT|I/E)[.\s].*))$",
                     re.IGNORECASE)
CUE = re.compile(r"^(?:@(?P<forced>[^(]+)|(?P<name>[A-Z0-9][A-Z0-9 .'\-]*[A-Z0-9.]))"
                 r"\s*(?P<ext>\([^)]*\))?\s*\^?$")
TRANSITION = re.compile(r"^(?:>.*|[A-Z ]+TO:)$")
NARRATORS = {"NARRATOR", "VOICEOVER", "VO", "V.O."}


def _strip_comments(text: str) -> str:
    keep_lines = lambda m: "\n" * m.group(0).count("\n")  # noqa: E731 - keeps line numbers
    text = re.sub(r"/\*.*?\*/", keep_lines, text, flags=re.DOTALL)
    return re.sub(r"\[\[.*?\]\]", keep_lines, text, flags=re.DOTALL)


def _title_page(lines: list[str]) -> tuple[str, int]:
    """Title from a title page (``Title: ...``) and the index where the body starts."""
    if not lines or not re.match(r"^\s*[A-Za-z ]+:", lines[0]) or HEADING.match(lines[0].strip()):
        return "", 0
    title = ""
    for i, line in enumerate(lines):
        if not line.strip():
            return title, i
        if m := re.match(r"^\s*title\s*:\s*(.*)$", line, re.IGNORECASE):
            title = m.group(1).strip() or (lines[i + 1].strip() if i + 1 < len(lines) else "")
    return title, len(lines)


def parse(text: str, source: str) -> Script:
    lines = _strip_comments(text).split("\n")
    title, start = _title_page(lines)
    scenes: list[Scene] = []
    characters: dict[str, Character] = {}
    i = start
    while i < len(lines):
        line = lines[i].strip()
        number = i + 1
        i += 1
        if not line or TRANSITION.match(line) or line.startswith(("=", "#", "~")):
            continue
        if m := HEADING.match(line):
            heading = (m.group("forced") or m.group("h")).strip()
            scenes.append(_scene(len(scenes) + 1, heading, number))
            continue
        prev_blank = number == 1 or not lines[number - 2].strip()
        cue = CUE.match(line)
        if cue and prev_blank and i < len(lines) and lines[i].strip():
            name = (cue.group("forced") or cue.group("name")).strip()
            ext = (cue.group("ext") or "").upper()
            narration = name.upper() in NARRATORS or ("V.O" in ext and name.upper() not in characters)
            paren = None
            spoken: list[str] = []
            while i < len(lines) and lines[i].strip():
                part = lines[i].strip()
                if part.startswith("(") and part.endswith(")"):
                    paren = paren or part.strip("()")
                else:
                    spoken.append(part)
                i += 1
            scene = _current(scenes, number)
            if narration and name.upper() in NARRATORS:
                scene.beats.append(Beat(kind="narration", text=" ".join(spoken), source_line=number))
                continue
            display = name.title() if name.isupper() else name
            characters.setdefault(display, Character(name=display))
            scene.beats.append(Beat(kind="dialogue", speaker=display, text=" ".join(spoken),
                                    parenthetical=paren, source_line=number))
            continue
        scene = _current(scenes, number)
        if m := re.match(r"^(SFX|SOUND)\s*:\s*(.+)$", line, re.IGNORECASE):
            scene.beats.append(Beat(kind="sfx", text=m.group(2).strip(), source_line=number))
        elif m := re.match(r"^(MUSIC)\s*:\s*(.+)$", line, re.IGNORECASE):
            scene.beats.append(Beat(kind="music", text=m.group(2).strip(), source_line=number))
        else:
            scene.beats.append(Beat(kind="action", text=line.lstrip("!"), source_line=number))
    if not scenes or not any(s.beats for s in scenes):
        raise ScriptError("no scenes found: start a scene with a heading like 'INT. KITCHEN - DAY'",
                          path=source)
    return Script(
        title=title or source.rsplit("/", 1)[-1].split(".")[0],
        language=detect_language(text),
        format="fountain",
        characters=list(characters.values()),
        scenes=scenes,
        source=source,
    )


def _scene(index: int, heading: str, line: int) -> Scene:
    m = re.match(r"^(?P<ie>INT\./EXT|INT/EXT|I/E|INT|EXT|EST)\.?\s*(?P<rest>.*)$", heading, re.IGNORECASE)
    ie = (m.group("ie").upper() if m else "")
    rest = m.group("rest") if m else heading
    location, _, time = rest.rpartition(" - ")
    if not location:
        location, time = rest, ""
    return Scene(index=index, heading=heading, location=location.strip(), time_of_day=time.strip(),
                 interior=None if "/" in ie or not ie else ie == "INT", source_line=line)


def _current(scenes: list[Scene], line: int) -> Scene:
    if not scenes:
        scenes.append(Scene(index=1, heading="", source_line=line))
    return scenes[-1]
