"""``doctor``'s voices line: whether the speech backend can design or clone voices, and
whether each ``[voices.cast]`` sample is there, owned (consent given) and 10-20 s long."""

from __future__ import annotations

from collections.abc import Callable

from dramaforge.config import Settings
from dramaforge.errors import ConfigError
from dramaforge.tools.registry import registry


def voices_check(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        from dramaforge.agents.voices import REFUSE
        from dramaforge.media.probe import probe

        speech = registry().create("speech", settings.backends.speech, settings)
        can = [
            word
            for word, able in (
                ("designs", getattr(speech, "can_design", False)),
                ("clones", getattr(speech, "can_clone", False)),
            )
            if able
        ]
        said = f"{speech.name} {' and '.join(can) or 'neither designs nor clones'} voices"
        notes: list[str] = []
        for name, wish in settings.voices.cast.items():
            if wish.sample is None:
                continue
            if not wish.consent:
                raise ConfigError(REFUSE.format(name=name, sample=wish.sample.name))
            if not wish.sample.is_file():
                raise ConfigError(f"{name}'s voice sample {wish.sample} does not exist")
            seconds = probe(wish.sample).duration
            if not 10.0 <= seconds <= 20.0:
                notes.append(f"{name}'s sample is {seconds:.0f} s (10-20 s clones best)")
        return "; ".join([said, *notes])

    return check
