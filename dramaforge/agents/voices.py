"""Voices by design: a character's voice described in words, or cloned from a sample the user owns.

A wish comes from the script's cast header (``角色：林小雨 — 温柔、略带沙哑的女声``, ``Cast: Mia —
warm, slightly husky female voice``: a description that speaks of a voice), from the settings
(``[voices.cast."林小雨"]`` with ``description`` or ``sample`` + ``consent``) or from chat
(``/voice``). The bible stage turns each wish into a voice once: designed or cloned by a speech
backend that can (``VoiceMaker``), else the closest system voice by the description's words
(gender, age, warmth), so an offline render still gives each character their own. The voice
is kept in the (series) bible, so every later episode speaks with it without paying again.

Cloning needs the owner's word: a sample wish without ``consent`` is refused, and a cloned
voice carries who gave the sample, the file's SHA-256 and the affirmation into the manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from dramaforge.config import CastVoice
from dramaforge.errors import ConfigError
from dramaforge.media.files import file_lock
from dramaforge.media.store import atomic_write
from dramaforge.schema import CharacterLook, Language, Script, StyleBible, Voice, VoiceConsent

log = logging.getLogger(__name__)

REFUSE = (
    "refusing to clone {name}'s voice from {sample}: affirm that you own this voice "
    "(--i-own-this-voice, or consent=yes)"
)

_VOICE_WORDS = re.compile(r"声|嗓|音色|语调|口音|voice|vocal|speaks|tone", re.IGNORECASE)
_FEMALE = re.compile(r"女|妈|姐|妹|婆|奶奶|female|woman|girl|lady|mother|sister|\bshe\b", re.I)
_MALE = re.compile(r"男|爸|哥|弟|爷|公公|\bmale\b|\bman\b|\bboy\b|father|brother|\bhe\b", re.I)
_CHILD = re.compile(r"童|孩|稚|child|kid|little|young girl|young boy", re.I)
_OLD = re.compile(r"老|年迈|苍老|elderly|\bold\b|aged|grand", re.I)
_WARM = re.compile(
    r"温柔|温暖|柔和|轻柔|沙哑|低沉|磁性|warm|gentle|soft|husky|calm|deep|slow", re.I
)
_BRIGHT = re.compile(r"清脆|活泼|明亮|尖|急|bright|lively|cheerful|crisp|fast|sharp", re.I)

# Genders of the DashScope system voices; local voices say theirs in the id (espeak "+f3").
_GENDER = {
    "Cherry": "f", "Serena": "f", "Chelsie": "f", "Jada": "f", "Sunny": "f",
    "Ethan": "m", "Dylan": "m",
    "longxiaochun_v2": "f", "longwan_v2": "f", "longhua_v2": "f",
    "longcheng_v2": "m", "longshu_v2": "m",
}  # fmt: skip


VoiceWish = CastVoice
"""What the user asked a character to sound like: words, or a sample they own."""


@runtime_checkable
class VoiceMaker(Protocol):
    """A speech backend that can make voices; ``can_design``/``can_clone`` say which."""

    name: str
    can_design: bool
    can_clone: bool

    def design_voice(self, description: str, name: str, language: Language) -> str: ...

    def clone_voice(self, sample: Path, name: str) -> str: ...


def speaks_of_voice(description: str) -> bool:
    return bool(_VOICE_WORDS.search(description))


def wishes_from(script: Script, given: dict[str, VoiceWish] | None = None) -> dict[str, VoiceWish]:
    """Every character's wish: a cast description that speaks of a voice, unless the
    settings or chat (``given``) say otherwise for that character."""
    found = {
        c.name: VoiceWish(description=c.description)
        for c in script.characters
        if c.description and speaks_of_voice(c.description)
    }
    return found | dict(given or {})


def _gender(voice: Voice) -> str:
    if voice.id in _GENDER:
        return _GENDER[voice.id]
    if "+f" in voice.id:
        return "f"
    if "+m" in voice.id:
        return "m"
    return "f" if voice.pitch >= 1.1 else "m"


def closest(description: str, voices: list[Voice], taken: set[str] | None = None) -> Voice:
    """The voice nearest to ``description``'s words: its gender first, then pitch (child
    higher, old lower, warm lower) and pace (warm slower, bright faster). Voices already
    ``taken`` by other characters lose only when a free one is as good."""
    if not voices:
        raise ConfigError("the speech backend offers no voices to choose from")
    female, male = bool(_FEMALE.search(description)), bool(_MALE.search(description))
    want = "f" if female and not male else "m" if male and not female else ""
    pitch = {"f": 1.2, "m": 0.9}.get(want, 1.0)
    pitch += 0.15 * bool(_CHILD.search(description)) - 0.1 * bool(_OLD.search(description))
    warm, bright = bool(_WARM.search(description)), bool(_BRIGHT.search(description))
    pitch -= 0.05 * warm
    rate = 1.0 - 0.06 * warm + 0.08 * bright
    taken = taken or set()

    def cost(v: Voice) -> float:
        mismatch = 1.0 if want and _gender(v) != want else 0.0
        used = 0.5 if _key(v) in taken else 0.0
        return mismatch + used + abs(v.pitch - pitch) + abs(v.rate - rate)

    return min(voices, key=cost)


def _key(voice: Voice) -> str:
    return f"{voice.id}|{voice.pitch}|{voice.rate}"


def consent_for(name: str, wish: VoiceWish) -> VoiceConsent:
    """The consent a clone of ``wish.sample`` carries; refused without the owner's word."""
    sample = wish.sample
    assert sample is not None
    if not wish.consent:
        raise ConfigError(REFUSE.format(name=name, sample=sample.name))
    if not sample.is_file():
        raise ConfigError(f"{name}'s voice sample {sample} does not exist")
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    return VoiceConsent(
        owner=wish.owner or name, sample_sha256=digest, affirmed=True, sample=sample.name
    )


class KeptVoices:
    """Voices already paid for, by what made them (backend, words or sample hash), in a JSON
    file beside the checkpoints: written the moment a voice is made, so a render that dies
    before its bible is saved, or a new render of the same cast, does not pay again."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @staticmethod
    def key(backend: str, name: str, wish: VoiceWish, sample_sha256: str = "") -> str:
        what = sample_sha256 or wish.description
        return hashlib.sha256(f"{backend}\x1f{name}\x1f{what}".encode()).hexdigest()[:24]

    def _all(self) -> dict[str, Voice]:
        if self.path is None or not self.path.is_file():
            return {}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return {k: Voice.model_validate(v) for k, v in data.items()}

    def get(self, key: str) -> Voice | None:
        return self._all().get(key)

    def put(self, key: str, voice: Voice) -> None:
        if self.path is None:
            return
        with file_lock(self.path.with_suffix(".lock")):
            kept = self._all() | {key: voice}
            data = {k: v.model_dump(mode="json") for k, v in kept.items()}
            atomic_write(self.path, json.dumps(data, ensure_ascii=False, indent=2))


def make_voices(
    bible: StyleBible,
    wishes: dict[str, VoiceWish],
    speech: object,
    language: Language,
    offered: list[Voice],
    kept: Path | None = None,
) -> tuple[StyleBible, list[str]]:
    """``bible`` with each wished-for character's voice made, and one line per thing the
    person should know (a backend that cannot clone or design). A character whose voice was
    already made (an earlier episode of the series) keeps it, and a voice made before for
    the same words or sample (``kept``, see ``KeptVoices``) is reused: nothing is paid twice."""
    book = KeptVoices(kept)
    maker = speech if isinstance(speech, VoiceMaker) else None
    backend = getattr(speech, "name", "the speech backend")
    notes: list[str] = []
    told_design = False
    looks = dict(bible.characters)
    taken = {_key(look.voice) for look in looks.values()} | {_key(bible.narrator)}
    for name, wish in wishes.items():
        look = looks.get(name)
        if look is None or look.voice.origin is not None:
            continue
        voice: Voice | None = None
        if wish.sample is not None:
            consent = consent_for(name, wish)
            if maker is not None and maker.can_clone:
                key = book.key(backend, name, wish, consent.sample_sha256)
                known = book.get(key)
                made = known.id if known else maker.clone_voice(wish.sample, name)
                voice = Voice(
                    id=made, origin="cloned", description=wish.description, consent=consent
                )
                book.put(key, voice)
            else:
                notes.append(
                    f"{backend} cannot clone voices: {name} gets the closest voice it has "
                    "(cloning needs dashscope:cosyvoice-v2 or -v3 speech)"
                )
        elif wish.description and maker is not None and maker.can_design:
            voice = _design(maker, book, name, wish.description, language)
        elif wish.description and not told_design:
            told_design = True
            notes.append(
                f"{backend} cannot design voices: characters get the closest voice it has to "
                "their description (design needs dashscope:qwen3-tts-vd speech)"
            )
        if voice is None:
            taken.discard(_key(look.voice))
            near = closest(wish.description, offered, taken)
            voice = near.model_copy(update={"origin": "matched", "description": wish.description})
        taken.add(_key(voice))
        looks[name] = look.model_copy(update={"voice": voice})
    narrator = bible.narrator
    if maker is not None and getattr(maker, "designed_only", False):
        narrator = _design_everyone(maker, book, looks, narrator, language)
    for note in notes:
        log.warning("%s", note)
    return bible.model_copy(update={"characters": looks, "narrator": narrator}), notes


PLAIN: dict[Language, str] = {
    "zh": "自然、清晰的普通话声音，语速适中",
    "en": "a natural, clear voice at a moderate pace",
}
NARRATOR: dict[Language, str] = {
    "zh": "沉稳、温和的旁白声音，吐字清晰，语速平缓",
    "en": "a calm, warm narrator's voice, clear diction, unhurried",
}


def _design_everyone(
    maker: VoiceMaker,
    book: KeptVoices,
    looks: dict[str, CharacterLook],
    narrator: Voice,
    language: Language,
) -> Voice:
    """For a model that speaks only designed voices (qwen3-tts-vd): a voice for everyone
    still without one (from their look's words, or a plain voice) in ``looks``; the
    narrator's voice, designed as a narrator's if it was not."""
    for name, look in looks.items():
        if look.voice.origin is None:
            words = look.description or PLAIN[language]
            voice = _design(maker, book, name, words, language)
            looks[name] = look.model_copy(update={"voice": voice})
    if narrator.origin is None:
        narrator = _design(maker, book, "narrator", NARRATOR[language], language)
    return narrator


def _design(
    maker: VoiceMaker, book: KeptVoices, name: str, words: str, language: Language
) -> Voice:
    """A voice designed from ``words``, or the one designed from them before."""
    key = book.key(maker.name, name, VoiceWish(description=words))
    known = book.get(key)
    made = known.id if known else maker.design_voice(words, name, language)
    voice = Voice(id=made, origin="designed", description=words)
    book.put(key, voice)
    return voice
