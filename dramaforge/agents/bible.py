"""The style bible: one look, palette, seed and voice per character, fixed for the project.

Every later prompt is built from it, so consistency is designed in rather than hoped for:
a character keeps the same colour, screen side, seed and voice in every shot.
"""

from __future__ import annotations

import hashlib

from dramaforge import prompts
from dramaforge.agents.director import mood_of
from dramaforge.schema import (
    CharacterLook,
    Language,
    Script,
    Shot,
    ShotPlan,
    StyleBible,
    Voice,
)

CHARACTER_COLOURS = ["#e4572e", "#2e86ab", "#76b041", "#f3a712", "#a23b72", "#5c4d7d", "#17bebb"]

PALETTES: dict[str, list[str]] = {
    "happy": ["#fff3d6", "#ffc857", "#7fb7be", "#3a506b"],
    "sad": ["#d8dde6", "#8d99ae", "#4a5568", "#2b2d42"],
    "tense": ["#c9ced6", "#6b7a8f", "#3d3b50", "#1b1b2f"],
    "romantic": ["#ffe5ec", "#ffb3c6", "#c08497", "#5e3c58"],
    "calm": ["#eef4ed", "#a9c5a0", "#6b9080", "#2f3e46"],
}

LOOKS: dict[Language, str] = {
    "zh": "分镜动态漫画，干净线条，柔和光影",
    "en": "storyboard animatic, clean lines, soft light",
}


def stable_seed(*parts: str) -> int:
    """A seed that depends only on names, so the same character gets it in every episode."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_147_483_647


def cast_names(script: Script, plan: ShotPlan) -> list[str]:
    """Everyone the bible gives a look, in order of appearance: the cast, then speakers."""
    return list(dict.fromkeys([c.name for c in script.characters] + _speakers(plan)))


def build_bible(
    script: Script,
    plan: ShotPlan,
    voices: list[Voice],
    *,
    series: str | None = None,
    known: dict[str, CharacterLook] | None = None,
) -> StyleBible:
    """Assign each character a colour, a screen slot, a seed and a voice, in order of appearance.

    ``voices`` comes from the speech backend; the first goes to the narrator. In a series,
    ``known`` holds the looks fixed by earlier episodes: those characters keep them exactly,
    and newcomers take the next free slot and voice.
    """
    known = dict(known or {})
    names = cast_names(script, plan)
    descriptions = {c.name: c.description for c in script.characters}
    narrator, cast_voices = voices[0], voices[1:] or voices
    name_seed = series or script.title
    looks: dict[str, CharacterLook] = {}
    next_slot = max((c.slot for c in known.values()), default=-1) + 1
    for name in names:
        if name in known:
            looks[name] = known[name]
            continue
        looks[name] = CharacterLook(
            name=name,
            description=descriptions.get(name, ""),
            color=CHARACTER_COLOURS[next_slot % len(CHARACTER_COLOURS)],
            slot=next_slot,
            seed=stable_seed(name_seed, name),
            voice=cast_voices[next_slot % len(cast_voices)],
        )
        next_slot += 1
    mood = mood_of(*(s.music or "" for s in plan.shots))
    return StyleBible(
        look=script.style or LOOKS[script.language],  # the script's own 风格/Style line wins
        palette=PALETTES.get(mood, PALETTES["calm"]),
        era="当代" if script.language == "zh" else "contemporary",
        seed=stable_seed(name_seed),
        characters=looks,
        narrator=narrator,
    )


def shot_prompt(shot: Shot, bible: StyleBible, language: Language) -> str:
    """The shot's visual prompt enhanced with the bible's look and its cast's fixed descriptions."""
    described = [
        f"{n}：{bible.characters[n].description}"
        if language == "zh"
        else f"{n}: {bible.characters[n].description}"
        for n in shot.characters
        if n in bible.characters and bible.characters[n].description
    ]
    return prompts.render(
        "enhance",
        language,
        prompt=shot.visual_prompt,
        look=bible.look,
        palette=" ".join(bible.palette),
        era=bible.era,
        characters=("；" if language == "zh" else "; ").join(described),
    )


CAMERA_WORDS: dict[Language, dict[str, str]] = {
    "zh": {
        "static": "固定镜头",
        "zoom_in": "镜头缓慢推近",
        "zoom_out": "镜头缓慢拉远",
        "pan_left": "镜头缓慢向左平移",
        "pan_right": "镜头缓慢向右平移",
    },
    "en": {
        "static": "Static camera",
        "zoom_in": "Slow push-in",
        "zoom_out": "Slow pull-out",
        "pan_left": "Slow pan to the left",
        "pan_right": "Slow pan to the right",
    },
}


def motion_prompt(shot: Shot, bible: StyleBible, language: Language) -> str:
    """What the video model should do with the keyframe: the camera move in words, the action,
    who is talking (so mouths move), and the look. In the script's language: Wan takes both."""
    speakers = list(dict.fromkeys(ln.speaker for ln in shot.lines if ln.speaker))
    if language == "zh":
        speaking = f"{'、'.join(speakers)}在说话。" if speakers else ""
        action = f"{shot.action.rstrip('。')}。" if shot.action else ""
    else:
        speaking = f"{', '.join(speakers)} talking. " if speakers else ""
        action = f"{shot.action.rstrip('.')}. " if shot.action else ""
    return prompts.render(
        "motion",
        language,
        camera=CAMERA_WORDS[language][shot.camera],
        action=action,
        speaking=speaking,
        look=bible.look,
    )


def _speakers(plan: ShotPlan) -> list[str]:
    return [line.speaker for s in plan.shots for line in s.lines if line.speaker]
