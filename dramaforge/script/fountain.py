"""Fountain screenplays (https://fountain.io): headings, action, cues, parentheticals, dialogue.

What matters for rendering is kept and the rest is read past: sections, synopses, lyrics,
``[[notes]]`` and ``/* boneyard */`` are ignored (line numbers still count them); transitions
(``CUT TO:``, ``> FADE OUT.``) are the cuts between shots. What is meant to be read on screen
becomes a title card: centred text (``> THE END <``) and a scene with nothing in it but its
heading (``.OPENING TITLES``), so no shot is ever empty. Sound is not part of Fountain, so
action lines beginning ``SFX:`` or ``MUSIC:`` carry it, and a NARRATOR cue is narration
rather than a character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dramaforge.schema import OFF_SCREEN, Beat, Character, Scene, Script
from dramaforge.script.finish import finish
from dramaforge.script.headings import Heading, parse_heading, split_place

_SLUG = re.compile(r"^(?:INT|EXT|EST|I/E)", re.IGNORECASE)

HEADING = re.compile(
    r"^(?:\.(?![.\s])(?P<forced>.+)"
    r"|(?:\d{1,4}[A-Z]?\.?\s+)?(?P<h>(?:INT\.?/EXT|EXT\.?/INT|I/E|INT|EXT|EST)[.\s].*))$",
    re.IGNORECASE,
)
SCENE_NUMBER = re.compile(r"#[\w.\-]{1,12}#$")
CUE_MAX = 60
"""A cue is a name and an extension or two; longer lines are never tried as one."""
CUE = re.compile(
    r"^(?:@(?P<forced>[^(^]{1,40})|(?P<name>[A-Z0-9][A-Z0-9.'\-]*(?: [A-Z0-9.'\-]+)*))"
    r"(?P<ext>(?: {0,3}\([^)]{0,20}\))*) {0,3}\^?$"
)
TRANSITION = re.compile(r"^(?:>.*|[A-Z .]+ TO:|FADE (?:IN|OUT)[:.]?|CUT TO BLACK\.?)$")
CENTRED = re.compile(r"^>\s*(?P<text>.*?)\s*<$")
SOUND = re.compile(r"^(?P<kind>SFX|SOUND|MUSIC|BGM)\s*[:：]\s*(?P<text>.+)$", re.IGNORECASE)
TITLE_KEY = re.compile(
    r"^(?P<key>title|credit|authors?|source|draft date|date|contact|copyright|notes|revision)"
    r"\s*:\s*(?P<value>.*)$",
    re.IGNORECASE,
)
INTRO = re.compile(
    r"\b(?P<name>[A-Z][A-Z'\-]{1,30}(?: [A-Z][A-Z'\-]{1,30})?) ?\((?P<desc>[^)\n]{1,200})\)"
)
EMPHASIS = re.compile(r"(\*{1,3}|_)(?=[^\s*_])([^*_\n]{1,2000}?)(?<=[^\s*_])\1")
"""Linear: the text between markers holds no marker, so a failed try stops at the next one."""
NARRATORS = {"NARRATOR", "NARRATION", "VOICEOVER", "VOICE-OVER", "V.O.", "VO", "旁白"}
INLINE = re.compile(  # ``MIA: Is this the last train?``, ``Conductor (O.S.): Last one.``
    r"^(?P<name>[A-Z][A-Za-z0-9.'\-]{0,24}(?: [A-Z][A-Za-z0-9.'\-]{0,24}){0,2})"
    r"(?: ?\([^)]{0,20}\))* ?: ?(?P<text>\S.*)$"
)
NOT_SPEAKERS = {
    "SUPER",
    "TITLE",
    "TITLE CARD",
    "CARD",
    "CHYRON",
    "CAPTION",
    "INSERT",
    "TEXT",
    "SUBTITLE",
    "NOTE",
    "NOTES",
    "FLASHBACK",
    "MONTAGE",
    "INTERCUT",
    "MEANWHILE",
    "LATER",
    "ANGLE ON",
    "CLOSE ON",
    "POV",
    "BACK TO",
    "SERIES OF SHOTS",
    "ON SCREEN",
    "LOCATION",
    "TIME",
    "SETTING",
}
"""Words before a colon that introduce screen text or a camera note, never a speaker."""
HINT = "start a scene with a heading such as 'INT. KITCHEN - DAY' (or a forced '.HEADING')"


@dataclass
class _State:
    scenes: list[Scene] = field(default_factory=list)
    intros: dict[str, tuple[int, str]] = field(default_factory=dict)
    action: list[str] = field(default_factory=list)
    action_line: int = 0

    def scene(self, line: int) -> Scene:
        """The scene being written; text before any heading opens an untitled one."""
        if not self.scenes:
            self.scenes.append(Scene(index=1, heading="", source_line=line))
        return self.scenes[-1]

    def add(self, beat: Beat) -> None:
        self.flush()
        self.scene(beat.source_line or 1).beats.append(beat)

    def add_action(self, line: str, number: int) -> None:
        if not self.action:
            self.action_line = number
        self.action.append(_plain(line))

    def flush(self) -> None:
        """Close the action paragraph being gathered: wrapped lines make one beat."""
        if self.action:
            text = " ".join(self.action)
            for m in INTRO.finditer(text):
                intro = (self.action_line, m.group("desc").strip())
                self.intros.setdefault(_display(m.group("name")), intro)
            self.scene(self.action_line).beats.append(
                Beat(kind="action", text=text, source_line=self.action_line)
            )
            self.action = []


def parse(text: str, source: str) -> Script:
    lines = _strip_comments(text).split("\n")
    title, i = _title_page(lines)
    if not title:
        title, i = _title_line(lines)
    st = _State()
    while i < len(lines):
        line = lines[i].strip()
        number = i + 1
        i += 1
        if not line:
            st.flush()
            continue
        if _layout(line, number, st):
            continue
        if (sound := SOUND.match(line)) is not None:
            kind = "music" if sound.group("kind").upper() in ("MUSIC", "BGM") else "sfx"
            st.add(Beat(kind=kind, text=_plain(sound.group("text")), source_line=number))
            continue
        if (said := _inline(line, number)) is not None:
            st.add(said)
            continue
        after_blank = number == 1 or not lines[number - 2].strip()
        next_filled = i < len(lines) and bool(lines[i].strip())
        if after_blank and next_filled and (cue := _cue(line)) is not None:
            st.flush()
            i = _dialogue(lines, i, cue, st)
            continue
        st.add_action(line, number)
    st.flush()
    for scene in st.scenes:  # ``.OPENING TITLES`` alone: its heading is the card
        if not scene.beats and scene.heading:
            scene.beats.append(Beat(kind="card", text=scene.heading, source_line=scene.source_line))
    return finish(
        text=text,
        source=source,
        format="fountain",
        scenes=st.scenes,
        characters=_cast(st),
        title=title,
        hint=HINT,
    )


def _layout(line: str, number: int, st: _State) -> bool:
    """Handle a line that lays the script out (a title card, a transition or section, forced
    action, a heading); False for one that says what happens."""
    if (centred := CENTRED.match(line)) is not None:
        if text := _plain(centred.group("text")):
            st.add(Beat(kind="card", text=text, source_line=number))
        return True
    if TRANSITION.match(line) or line.startswith(("=", "#", "~")):
        st.flush()
        return True
    if line.startswith("!"):  # forced action: never a heading, cue or sound cue
        st.add_action(line[1:], number)
        return True
    if m := HEADING.match(line):
        st.flush()
        heading = (m.group("forced") or m.group("h") or "").strip()
        head, _, last = heading.rpartition(" ")
        if line[:1].isdigit() and re.fullmatch(r"\d{1,4}[A-Z]?", last):
            heading = head.rstrip()  # ``12 INT. DINER - NIGHT 12``: shooting-script numbers
        if heading.endswith("#") and (num := SCENE_NUMBER.search(heading[-16:])):
            heading = heading[: len(heading) - 16 + num.start()].strip()
        st.scenes.append(_scene(len(st.scenes) + 1, heading, number))
        return True
    return False


def _cast(st: _State) -> list[Character]:
    """Speakers in order of first appearance, where an introduction in the action such as
    ``MAYA (20s, yellow raincoat)`` counts as appearing and gives the description."""
    first: dict[str, int] = {}
    for beat in (b for s in st.scenes for b in s.beats if b.speaker):
        first.setdefault(beat.speaker or "", beat.source_line or 0)
    for name, (line, _desc) in st.intros.items():
        if name in first:
            first[name] = min(first[name], line)
    order = sorted(first, key=lambda name: first[name])
    return [Character(name=n, description=st.intros.get(n, (0, ""))[1]) for n in order]


def _cue(line: str) -> tuple[str, str] | None:
    """(name, extensions) when ``line`` is a character cue: CAPS with a letter, or ``@Name``."""
    if len(line) > CUE_MAX:
        return None
    m = CUE.match(line)
    if m is None or line.endswith("TO:"):
        return None
    name = (m.group("forced") or m.group("name") or "").strip()
    if not re.search(r"[A-Za-z\u4e00-\u9fff]", name):
        return None
    return name, m.group("ext").upper()


def _dialogue(lines: list[str], i: int, cue: tuple[str, str], st: _State) -> int:
    """Read the dialogue block after a cue; a mid-speech parenthetical starts a new beat."""
    name, extension = cue  # (V.O.), (O.S.), (CONT'D): how it is heard, not who speaks
    narration = name.upper() in NARRATORS
    speaker = None if narration else _display(name)
    # A voice-over or off-screen extension is kept as the line's parenthetical: lips in
    # frame must not move with it (``Line.heard_only``). (CONT'D) says nothing of that.
    heard = [e for e in re.findall(r"\(([^)]*)\)", extension) if OFF_SCREEN.search(e)]
    paren: str | None = heard[0] if heard else None
    spoken: list[str] = []
    first = i + 1

    def emit() -> None:
        if spoken:
            st.add(
                Beat(
                    kind="narration" if narration else "dialogue",
                    text=" ".join(spoken),
                    speaker=speaker,
                    parenthetical=None if narration else paren,
                    source_line=first,
                )
            )

    while i < len(lines) and lines[i].strip():
        part = lines[i].strip()
        i += 1
        if part.startswith("(") and part.endswith(")"):
            emit()
            paren, spoken, first = part[1:-1].strip(), [], i + 1
        else:
            if not spoken:
                first = i
            spoken.append(_plain(part))
    emit()
    return i


def _inline(line: str, number: int) -> Beat | None:
    """``NAME: words`` on one line, as writers mix it into screenplays: the speech a cue block
    would hold (a NARRATOR's is narration). Screen text (``SUPER: …``) stays action."""
    m = INLINE.match(line)
    if m is None or m.group("name").upper() in NOT_SPEAKERS:
        return None
    name, text = m.group("name"), _plain(m.group("text"))
    if name.upper() in NARRATORS:
        return Beat(kind="narration", text=text, source_line=number)
    return Beat(kind="dialogue", speaker=_display(name), text=text, source_line=number)


def _title_line(lines: list[str]) -> tuple[str, int]:
    """A screenplay without a title page often opens with its title alone on the first line
    (``THE LAST TRAIN``): a short line with no sentence ending, before any heading."""
    first = next((i for i, ln in enumerate(lines) if ln.strip()), len(lines))
    if first + 1 >= len(lines) or lines[first + 1].strip():
        return "", 0
    line = lines[first].strip()
    if len(line) > 60 or line.endswith((".", "!", "?", ":", "。", "！", "？", "：")):
        return "", 0
    if HEADING.match(line) or TRANSITION.match(line) or line.startswith(("!", "@", "#", "=", "~")):
        return "", 0
    return _plain(line.strip("*_ ")), first + 1


def _display(name: str) -> str:
    """``MAYA`` reads as ``Maya`` in subtitles and the cast list; ``@McClane`` stays as typed."""
    return name.title() if name.isupper() else name


def _plain(text: str) -> str:
    """Drop Fountain emphasis (``*italic*``, ``**bold**``, ``_underline_``) so it is not spoken."""
    for _ in range(3):  # _**nested**_ needs two passes; markers nest three deep at most
        plain = EMPHASIS.sub(r"\2", text)
        if plain == text:
            break
        text = plain
    return text.strip()


def _strip_comments(text: str) -> str:
    """Remove boneyard and notes but keep their newlines, so line numbers stay true.

    Done with ``str.find``: a lazy ``/\\*.*?\\*/`` pattern rescans to the end of the file from
    every unclosed ``/*``, which is quadratic in a file of them."""
    for left, right in (("/*", "*/"), ("[[", "]]")):
        parts: list[str] = []
        i = 0
        while (j := text.find(left, i)) >= 0 and (k := text.find(right, j + 2)) >= 0:
            parts += [text[i:j], "\n" * text.count("\n", j, k)]
            i = k + 2
        parts.append(text[i:])
        text = "".join(parts)
    return text


def _title_page(lines: list[str]) -> tuple[str, int]:
    """The title from a title page (``Title: ...``) and the index where the body starts."""
    first = next((i for i, ln in enumerate(lines) if ln.strip()), len(lines))
    if first == len(lines) or not TITLE_KEY.match(lines[first].strip()):
        return "", 0
    title: list[str] = []
    key = ""
    for i in range(first, len(lines)):
        raw = lines[i]
        if not raw.strip():
            return " ".join(title), i
        if (m := TITLE_KEY.match(raw.strip())) and not raw[:1].isspace():
            key = m.group("key").lower()
            value = m.group("value").strip()
        else:
            value = raw.strip()
        if key == "title" and value:
            title.append(_plain(value))
    return " ".join(title), len(lines)


def _scene(index: int, heading: str, line: int) -> Scene:
    """``INT. CLASSROOM - DAY`` -> location CLASSROOM, time DAY, interior True."""
    parsed = parse_heading(heading[:120])
    if parsed is None or not _SLUG.match(heading):  # a forced heading: ``.ROOFTOP``
        place = split_place(heading)
        parsed = Heading(heading, place.location, place.time_of_day, place.interior)
    return Scene(
        index=index,
        heading=heading,
        location=parsed.location,
        time_of_day=parsed.time_of_day,
        interior=parsed.interior,
        source_line=line,
    )
