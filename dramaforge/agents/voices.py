"""Voices by design: a character's voice described in words, or cloned from a sample the user owns.

A wish comes from the script's cast header (``角色：林小雨 — 温柔、略带沙哑的女声``, ``Cast: Mia —
warm, slightly husky female voice``: a description that speaks of a voice), from the settings
(``[voices.cast."林小雨"]`` with ``description`` or ``sample`` + ``consent``) or from chat
(``/voice``). The bible stage plans each wish for free: a voice a speech backend that can
(``VoiceMaker``) must design or clone is listed in the bible's ``to_make`` (shown and priced
at approval) and made by the cast stage once the plan is approved; otherwise the closest
system voice by the description's words (gender, age, warmth), so an offline render still
gives each character their own. The voice is kept in the (series) bible, so every later
episode speaks with it without paying again.

Cloning needs the owner's word: a sample wish without ``consent`` is refused, and a cloned
voice carries who gave the sample, the file's SHA-256 and the affirmation into the manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from dramaforge.config import CastVoice
from dramaforge.errors import ConfigError
from dramaforge.media.files import file_lock
from dramaforge.media.store import atomic_write
from dramaforge.schema import (
    CharacterLook,
    Language,
    Script,
    StyleBible,
    Voice,
    VoiceConsent,
    VoiceToMake,
)

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
    design_spec: str
    """The priced ``provider:model`` a designed voice is paid to (its ``[prices]`` key)."""
    clone_spec: str

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


Pay = Callable[[str, str, Callable[[], str]], str]
"""How a paid voice is made: ``pay(spec, what, make)`` runs ``make`` (the budget's guard in a
render, ``RenderContext.charge``); by default it just runs it."""


def _unguarded(_spec: str, _what: str, make: Callable[[], str]) -> str:
    return make()


def plan_voices(
    bible: StyleBible,
    wishes: dict[str, VoiceWish],
    speech: object,
    language: Language,
    offered: list[Voice],
    kept: Path | None = None,
) -> tuple[StyleBible, list[str]]:
    """``bible`` with every wish settled that costs nothing (the closest voice, or one made
    before for the same words or sample: ``kept``, see ``KeptVoices``) and the voices only a
    paid call can make listed in ``bible.to_make``, for ``make_planned`` once the plan is
    approved; and one line per thing the person should know (a backend that cannot clone or
    design). Nothing is paid or uploaded here, and a sample without its owner's word is
    refused here, at planning. A character whose voice was already made keeps it."""
    book = KeptVoices(kept)
    maker = speech if isinstance(speech, VoiceMaker) else None
    backend = getattr(speech, "name", "the speech backend")
    notes: list[str] = []
    told_design = False
    looks = dict(bible.characters)
    todo = dict(bible.to_make.voices)
    taken = {_key(look.voice) for look in looks.values()} | {_key(bible.narrator)}
    for name, wish in wishes.items():
        look = looks.get(name)
        if look is None or look.voice.origin is not None:
            continue
        voice: Voice | None = None
        if wish.sample is not None:
            consent = consent_for(name, wish)
            if maker is not None and maker.can_clone:
                known = book.get(book.key(backend, name, wish, consent.sample_sha256))
                if known is None:
                    todo[name] = VoiceToMake(
                        how="clone",
                        by=maker.clone_spec,
                        description=wish.description,
                        sample=str(wish.sample),
                        consent=consent,
                    )
                    continue
                voice = _cloned(known.id, wish.description, consent)
            else:
                notes.append(
                    f"{backend} cannot clone voices: {name} gets the closest voice it has "
                    "(cloning needs dashscope:cosyvoice-v2 or -v3 speech)"
                )
        elif wish.description and maker is not None and maker.can_design:
            voice = _designed_before(maker, book, name, wish.description)
            if voice is None:
                words = wish.description
                todo[name] = VoiceToMake(how="design", by=maker.design_spec, description=words)
                continue
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
        todo.pop(name, None)
        looks[name] = look.model_copy(update={"voice": voice})
    narrator, waiting = bible.narrator, bible.to_make.narrator
    if maker is not None and getattr(maker, "designed_only", False):
        narrator, waiting = _design_everyone(maker, book, looks, todo, narrator, language)
    for note in notes:
        log.warning("%s", note)
    work = bible.to_make.model_copy(update={"voices": todo, "narrator": waiting})
    planned = bible.model_copy(update={"characters": looks, "narrator": narrator, "to_make": work})
    return planned, notes


def make_planned(
    bible: StyleBible,
    speech: object,
    language: Language,
    kept: Path | None = None,
    pay: Pay = _unguarded,
    names: set[str] | None = None,
) -> StyleBible:
    """``bible`` with the voices its ``to_make`` lists (those of ``names``; all and the
    narrator's when None) made and struck off the list. Each is paid for once: a voice made
    before for the same words or sample (``kept``) is reused, so a render that dies after
    paying and is resumed does not pay again. A clone's sample must still be the one its
    owner consented to when the plan was made."""
    book = KeptVoices(kept)
    work = bible.to_make
    chosen = {n: v for n, v in work.voices.items() if names is None or n in names}
    voiced = names is None and work.narrator is not None
    if not (chosen or voiced):
        return bible
    maker = speech if isinstance(speech, VoiceMaker) else None
    if maker is None:
        raise ConfigError(
            f"the plan asks {getattr(speech, 'name', 'the speech backend')} to make voices it "
            "cannot make (the speech backend changed since it was planned); plan it again"
        )
    looks = dict(bible.characters)
    for name, todo in chosen.items():
        if name in looks:
            voice = _make(maker, book, name, todo, language, pay)
            looks[name] = looks[name].model_copy(update={"voice": _tuned(voice, looks[name].voice)})
    narrator = bible.narrator
    if voiced and work.narrator is not None:
        narrator = _tuned(_make(maker, book, "narrator", work.narrator, language, pay), narrator)
    left = work.model_copy(
        update={
            "voices": {n: v for n, v in work.voices.items() if n not in chosen},
            "narrator": None if voiced else work.narrator,
        }
    )
    return bible.model_copy(update={"characters": looks, "narrator": narrator, "to_make": left})


def make_voices(
    bible: StyleBible,
    wishes: dict[str, VoiceWish],
    speech: object,
    language: Language,
    offered: list[Voice],
    kept: Path | None = None,
) -> tuple[StyleBible, list[str]]:
    """``plan_voices`` and ``make_planned`` at once: every wish made now (paid)."""
    planned, notes = plan_voices(bible, wishes, speech, language, offered, kept)
    return make_planned(planned, speech, language, kept), notes


def _make(
    maker: VoiceMaker, book: KeptVoices, name: str, todo: VoiceToMake, language: Language, pay: Pay
) -> Voice:
    """The voice ``todo`` asks for, paid through ``pay`` unless it was made before."""
    if todo.how == "design":
        voice = _designed_before(maker, book, name, todo.description)
        if voice is not None:
            return voice
        what = f"voice design for {name}"
        made = pay(todo.by, what, lambda: maker.design_voice(todo.description, name, language))
        voice = Voice(id=made, origin="designed", description=todo.description)
        book.put(book.key(maker.name, name, VoiceWish(description=todo.description)), voice)
        return voice
    consent = todo.consent
    sample = Path(todo.sample or "")
    if consent is None or not consent.affirmed or not sample.is_file():
        raise ConfigError(REFUSE.format(name=name, sample=sample.name))
    if hashlib.sha256(sample.read_bytes()).hexdigest() != consent.sample_sha256:
        raise ConfigError(
            f"{name}'s voice sample {sample} changed after its owner consented; plan again "
            "and affirm that you own the new sample"
        )
    wish = VoiceWish(description=todo.description, sample=sample, consent=True)
    key = book.key(maker.name, name, wish, consent.sample_sha256)
    known = book.get(key)
    made = (
        known.id
        if known
        else pay(todo.by, f"voice enrollment for {name}", lambda: maker.clone_voice(sample, name))
    )
    voice = _cloned(made, todo.description, consent)
    book.put(key, voice)
    return voice


def _tuned(made: Voice, planned: Voice) -> Voice:
    """``made`` at the pitch and pace the planned voice had (a person's edit before approval)."""
    return made.model_copy(update={"pitch": planned.pitch, "rate": planned.rate})


def _cloned(voice_id: str, description: str, consent: VoiceConsent) -> Voice:
    return Voice(id=voice_id, origin="cloned", description=description, consent=consent)


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
    todo: dict[str, VoiceToMake],
    narrator: Voice,
    language: Language,
) -> tuple[Voice, VoiceToMake | None]:
    """For a model that speaks only designed voices (qwen3-tts-vd): a voice for everyone
    still without one (from their look's words, or a plain voice) in ``looks``, and the
    narrator's, designed as a narrator's if it was not; each one designed before is taken
    as it is, the others are added to ``todo`` (the narrator's is returned) to be made."""
    for name, look in looks.items():
        if look.voice.origin is None and name not in todo:
            words = look.description or PLAIN[language]
            voice = _designed_before(maker, book, name, words)
            if voice is None:
                todo[name] = VoiceToMake(how="design", by=maker.design_spec, description=words)
            else:
                looks[name] = look.model_copy(update={"voice": voice})
    if narrator.origin is not None:
        return narrator, None
    words = NARRATOR[language]
    voice = _designed_before(maker, book, "narrator", words)
    if voice is not None:
        return voice, None
    return narrator, VoiceToMake(how="design", by=maker.design_spec, description=words)


def _designed_before(maker: VoiceMaker, book: KeptVoices, name: str, words: str) -> Voice | None:
    """The voice designed from ``words`` for ``name`` before (``KeptVoices``), if any."""
    return book.get(book.key(maker.name, name, VoiceWish(description=words)))
