"""The rule-based director: Script -> ShotPlan with no model at all.

It is the offline default and the fallback when no chat model is configured. Each scene opens
on an establishing wide shot; spoken lines are covered one or two per shot, cutting between
close-ups on the speaker, medium two-shots and reaction shots; action, narration and sound cues
land on the shot where they occur. Durations here are estimates from text length: the voice
stage replaces them with the measured length of the synthesized speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dramaforge import prompts
from dramaforge.schema import (
    Beat,
    CameraMove,
    Framing,
    Language,
    Line,
    Scene,
    Script,
    Shot,
    ShotPlan,
)

FRAMING_WORDS: dict[Language, dict[Framing, str]] = {
    "zh": {
        "wide": "远景建立镜头",
        "medium": "中景",
        "close_up": "特写",
        "reaction": "反应镜头",
        "insert": "插入特写",
    },
    "en": {
        "wide": "Wide establishing shot",
        "medium": "Medium shot",
        "close_up": "Close-up",
        "reaction": "Reaction shot",
        "insert": "Insert detail shot",
    },
}

MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "happy": ("轻快", "欢快", "活泼", "明快", "happy", "upbeat", "cheerful", "bright", "playful"),
    "sad": ("悲伤", "忧伤", "伤感", "低沉", "sad", "melancholy", "somber"),
    "tense": ("紧张", "悬疑", "压抑", "tense", "suspense", "ominous", "dark"),
    "romantic": ("浪漫", "温柔", "温暖", "心动", "romantic", "tender", "soft", "warm"),
}

SENTENCE_END = re.compile(r"[。！？!?…]+|(?<=[.])\s")


def speech_seconds(text: str, language: Language) -> float:
    """Rough spoken length of ``text``, used until the real speech is measured."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    words = len(re.findall(r"[A-Za-z0-9']+", text))
    pauses = len(SENTENCE_END.findall(text))
    rate_cjk = 4.2 if language == "zh" else 3.5
    return cjk / rate_cjk + words / 2.6 + 0.25 * pauses


def estimate_seconds(
    lines: list[Line], language: Language, min_shot: float, max_shot: float
) -> float:
    """A shot's length before its speech exists: spoken time, pauses, a lead-in, clamped."""
    spoken = sum(speech_seconds(line.text, language) for line in lines)
    seconds = spoken + 0.4 * len(lines) + (0.6 if lines else 3.0)
    return round(max(min_shot, min(seconds, max_shot)), 2)


def mood_of(*texts: str) -> str:
    joined = " ".join(texts).lower()
    for mood, words in MOOD_WORDS.items():
        if any(w in joined for w in words):
            return mood
    return "calm"


@dataclass
class _Draft:
    framing: Framing
    action: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    sfx: list[str] = field(default_factory=list)
    focus: str | None = None
    card: str | None = None


def card_seconds(text: str) -> float:
    """Long enough to read a title card: 2.5 s, and more for a long one."""
    return round(min(6.0, 2.5 + len(text) / 12), 2)


def card_shot(
    script: Script, scene: Scene, text: str, n: int, index: int, sfx: list[str] | None = None
) -> Shot:
    """A title card: its words on a plain background, on screen for the whole shot."""
    return Shot(
        id=f"s{scene.index:02d}-{n:02d}",
        index=index,
        scene_index=scene.index,
        scene_heading=scene.heading,
        duration=card_seconds(text),
        framing="insert",
        camera="static",
        visual_prompt=prompts.render("card", script.language, text=text),
        action=text,
        card=text,
        sfx=sfx or [],
        time_of_day=scene.time_of_day,
    )


def safe_prompt(shot: Shot, language: Language) -> str:
    """A prompt rebuilt from the shot's neutral facts (framing, place, time, cast) only: the
    action text, which is what moderation usually objects to, is left out."""
    sep = "，" if language == "zh" else ", "
    end = "。" if language == "zh" else ". "
    return prompts.render(
        "safe",
        language,
        framing=FRAMING_WORDS[language][shot.framing],
        setting=sep.join(p for p in (shot.scene_heading, shot.time_of_day) if p),
        cast=f"{sep.join(shot.characters)}{end}" if shot.characters else "",
    )


@dataclass
class RuleDirector:
    """Plans shots from the script's structure. ``name`` is what the manifest records."""

    min_shot: float = 2.0
    max_shot: float = 8.0
    pair_limit: float = 3.5  # two lines share a shot only if both fit in this many seconds
    name: str = "local:rules"

    def rewrite(self, shot: Shot, prompt: str, reason: str, language: Language) -> str:
        """After a moderation refusal: the shot's neutral facts only (see ``safe_prompt``)."""
        return safe_prompt(shot, language)

    def direct(self, script: Script) -> ShotPlan:
        shots: list[Shot] = []
        for scene in script.scenes:
            shots.extend(self._scene(script, scene, start=len(shots)))
        return ShotPlan(
            title=script.title,
            language=script.language,
            shots=shots,
            director=self.name,
            repairs=list(script.notes),
        )

    def _scene(self, script: Script, scene: Scene, start: int) -> list[Shot]:
        if scene.shots:
            return self._listed(script, scene, start)
        drafts = self._drafts(scene, script.language)
        present = _speakers(scene) or [c.name for c in script.characters][:2]
        music = next((b.text for b in scene.beats if b.kind == "music"), None)
        mood = mood_of(music or "", scene.time_of_day, scene.heading)
        shots = []
        for n, d in enumerate(drafts):
            index = start + n + 1
            if d.card is not None:
                shots.append(card_shot(script, scene, d.card, n + 1, index, d.sfx))
                continue
            cast = present if d.framing in ("wide", "medium") else [d.focus] if d.focus else []
            shots.append(
                Shot(
                    id=f"s{scene.index:02d}-{n + 1:02d}",
                    index=index,
                    scene_index=scene.index,
                    scene_heading=scene.heading,
                    duration=self._estimate(d, script.language),
                    framing=d.framing,
                    camera=_camera(d.framing, index),
                    visual_prompt=self._prompt(script.language, scene, d, cast),
                    action=" ".join(d.action),
                    characters=cast,
                    focus=d.focus,
                    lines=d.lines,
                    sfx=d.sfx,
                    music=music,
                    mood=mood,
                    time_of_day=scene.time_of_day,
                )
            )
        return shots

    def _listed(self, script: Script, scene: Scene, start: int) -> list[Shot]:
        """A shot list's shots as listed: their order, framing, camera and length kept; only
        what the list leaves out is chosen here (a framing from who speaks, a camera move,
        a length from the speech)."""
        language = script.language
        present = _speakers(scene) or [c.name for c in script.characters][:2]
        shots = []
        for n, listed in enumerate(scene.shots):
            index = start + n + 1
            lines = [line_from_beat(b) for b in listed.beats if b.kind in ("dialogue", "narration")]
            speakers = list(dict.fromkeys(ln.speaker for ln in lines if ln.speaker))
            framing = listed.framing or _listed_framing(n, speakers, listed.characters)
            cast = listed.characters or (speakers if framing != "wide" else present)
            focus = speakers[0] if len(speakers) == 1 else (cast[0] if len(cast) == 1 else None)
            estimated = estimate_seconds(lines, language, self.min_shot, self.max_shot)
            music = next((b.text for b in listed.beats if b.kind == "music"), None)
            shots.append(
                Shot(
                    id=f"s{scene.index:02d}-{n + 1:02d}",
                    index=index,
                    scene_index=scene.index,
                    scene_heading=scene.heading,
                    duration=listed.duration or estimated,
                    framing=framing,
                    camera=listed.camera or _camera(framing, index),
                    visual_prompt=scene_prompt(language, scene, framing, cast, listed.visual),
                    action=listed.visual,
                    characters=cast,
                    focus=focus,
                    lines=lines,
                    sfx=[b.text for b in listed.beats if b.kind == "sfx"],
                    music=music,
                    mood=mood_of(music or "", scene.time_of_day, scene.heading, listed.visual),
                    time_of_day=scene.time_of_day,
                    hold=listed.duration,
                )
            )
        return shots

    def _drafts(self, scene: Scene, language: Language) -> list[_Draft]:
        """Walk the beats in order, cutting a new shot at each spoken line or pair of lines."""
        opening = _Draft("wide")
        drafts: list[_Draft] = [opening]
        pending_action: list[str] = []
        pending_sfx: list[str] = []
        beats = scene.beats
        i = 0
        while i < len(beats):
            beat = beats[i]
            i += 1
            if beat.kind == "card":
                _place_card(beat.text, drafts, opening, pending_action, pending_sfx)
                pending_action, pending_sfx = [], []
            elif beat.kind == "action":
                pending_action.append(beat.text)
            elif beat.kind == "sfx":
                pending_sfx.append(beat.text)
            elif beat.kind == "narration":
                target = opening if opening is drafts[-1] and not opening.lines else None
                if target is None:
                    target = _Draft("insert" if pending_action else "wide")
                    drafts.append(target)
                target.lines.append(line_from_beat(beat))
                target.action += pending_action
                target.sfx += pending_sfx
                pending_action, pending_sfx = [], []
            elif beat.kind == "dialogue":
                group = [beat]
                nxt = beats[i] if i < len(beats) else None
                if (
                    nxt is not None
                    and nxt.kind == "dialogue"
                    and speech_seconds(beat.text + nxt.text, language) <= self.pair_limit
                ):
                    group.append(nxt)
                    i += 1
                draft = self._dialogue_draft(group, drafts, _speakers(scene))
                draft.action += pending_action
                draft.sfx += pending_sfx
                pending_action, pending_sfx = [], []
                drafts.append(draft)
        if pending_action and (len(drafts) > 1 or drafts[-1].card is not None):
            drafts.append(_Draft("medium", action=pending_action, sfx=pending_sfx))
        else:
            drafts[-1].action += pending_action
            drafts[-1].sfx += pending_sfx
        if not opening.action:
            opening.action = [a for d in drafts[1:2] for a in d.action][:1]
        return drafts

    def _dialogue_draft(self, group: list[Beat], drafts: list[_Draft], cast: list[str]) -> _Draft:
        speakers = list(dict.fromkeys(b.speaker for b in group if b.speaker))
        lines = [line_from_beat(b) for b in group]
        if len(speakers) > 1:
            return _Draft("medium", lines=lines)
        speaker = speakers[0] if speakers else None
        previous = drafts[-1]
        listeners = [c for c in cast if c != speaker]
        if (
            previous.framing == "close_up"
            and previous.focus == speaker
            and listeners
            and len(drafts) % 3 == 0
        ):
            # The same speaker again: cut to the listener's face while the line plays.
            return _Draft("reaction", lines=lines, focus=listeners[0])
        framing: Framing = "medium" if len(drafts) == 1 else "close_up"
        return _Draft(framing, lines=lines, focus=speaker)

    def _estimate(self, draft: _Draft, language: Language) -> float:
        return estimate_seconds(draft.lines, language, self.min_shot, self.max_shot)

    def _prompt(self, language: Language, scene: Scene, d: _Draft, cast: list[str]) -> str:
        action = " ".join(d.action)
        if action and language != "zh" and not action.endswith("."):
            action += ". "
        return scene_prompt(language, scene, d.framing, cast, action)


def _place_card(
    text: str, drafts: list[_Draft], opening: _Draft, action: list[str], sfx: list[str]
) -> None:
    """A title card after what happens before it (the action not yet on a shot goes on the
    opening wide, or on a shot of its own); a scene that opens on its card opens there."""
    empty = opening is drafts[-1] and not (opening.lines or opening.action)
    if empty and action:
        opening.action, opening.sfx = list(action), list(sfx)
    elif action:
        drafts.append(_Draft("medium", action=list(action), sfx=list(sfx)))
    elif empty:
        drafts.pop()
    drafts.append(_Draft("insert", card=text))


def line_from_beat(beat: Beat) -> Line:
    """A script beat as a spoken line on a shot (narration has no speaker)."""
    return Line(
        text=beat.text,
        speaker=beat.speaker if beat.kind == "dialogue" else None,
        narration=beat.kind == "narration",
        parenthetical=beat.parenthetical,
        source_line=beat.source_line,
    )


def _listed_framing(n: int, speakers: list[str], cast: list[str]) -> Framing:
    """A listed shot's framing when the list gives none: a scene opens wide, one speaker is
    a close-up, several a medium shot, a picture without people an insert."""
    if n == 0:
        return "wide"
    if len(speakers) == 1:
        return "close_up"
    if speakers or cast:
        return "medium"
    return "insert"


def _speakers(scene: Scene) -> list[str]:
    return list(dict.fromkeys(b.speaker for b in scene.beats if b.kind == "dialogue" and b.speaker))


CAMERA_CYCLE: dict[Framing, tuple[CameraMove, ...]] = {
    "wide": ("pan_right", "pan_left", "zoom_out"),
    "medium": ("zoom_in", "static", "pan_left"),
    "close_up": ("static", "zoom_in"),
    "reaction": ("zoom_in", "static"),
    "insert": ("zoom_out", "zoom_in"),
}


def _camera(framing: Framing, index: int) -> CameraMove:
    moves = CAMERA_CYCLE[framing]
    return moves[index % len(moves)]


def scene_prompt(
    language: Language, scene: Scene, framing: Framing, cast: list[str], action: str
) -> str:
    """A shot's visual prompt from its scene's place and time, framing, cast and action."""
    sep = "，" if language == "zh" else ", "
    setting = sep.join(p for p in (scene.location or scene.heading, scene.time_of_day) if p)
    who = sep.join(cast)
    cast_text = (f"{who}。" if language == "zh" else f"{who}. ") if who else ""
    return prompts.render(
        "shot",
        language,
        framing=FRAMING_WORDS[language][framing],
        setting=setting,
        cast=cast_text,
        action=action,
    )
