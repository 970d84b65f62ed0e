"""Plain prose: a paragraph or a one-line idea becomes narrated scenes, one per paragraph."""

from __future__ import annotations

import re

from dramaforge.errors import ScriptError
from dramaforge.schema import Beat, Scene, Script
from dramaforge.script.detect import detect_language

SENTENCES = re.compile(r"[^。！？!?.]+[。！？!?.]*")


def parse(text: str, source: str) -> Script:
    language = detect_language(text)
    scenes: list[Scene] = []
    line = 1
    for block in re.split(r"\n\s*\n", text):
        start = line
        line += block.count("\n") + 2
        body = " ".join(ln.strip() for ln in block.split("\n") if ln.strip() and not ln.startswith("#"))
        if not body:
            continue
        sentences = [s.strip() for s in SENTENCES.findall(body) if s.strip()]
        beats = [Beat(kind="action", text=sentences[0], source_line=start)]
        beats += [Beat(kind="narration", text=s, source_line=start) for s in sentences]
        scenes.append(Scene(index=len(scenes) + 1, heading=sentences[0][:24], beats=beats,
                            source_line=start))
    if not scenes:
        raise ScriptError("no text to turn into scenes", path=source)
    first = scenes[0].beats[0].text
    title = first[:12] if language == "zh" else " ".join(first.split()[:6])
    return Script(title=title.rstrip("。.!！?？,，"), language=language, format="prose",
                  scenes=scenes, source=source)
