"""The vision critic: a vision-language model looks at each keyframe after the cheap checks pass.

The heuristic critic runs first (black frames, silent lines, frozen clips cost nothing to find),
so the model is only paid for takes that are technically sound. It then judges what a heuristic
cannot: does the picture follow the prompt, are these the right people, is it in style, are
there generation defects. A failing verdict sends the shot back to the keyframe stage with the
model's revised prompt.

The reviewer must never be the reason a render fails: a reply that is not valid JSON twice, a
rate limit or an outage after the client's own retries all fall back to the heuristic verdict,
with an issue saying the vision review was unavailable. Only a refused API key is raised, since
every later shot would be refused too.

Verdicts are paid work, so they are kept like any other asset: in the asset store, keyed by
the reviewer (model and endpoint), the exact prompt and the keyframe's asset key (the image
itself when it has none). Reviewing the same keyframe again (a re-render, a resume, an
unchanged shot in an edited episode) reads the verdict back instead of asking. A new
generation is always asked, even if it came out pixel for pixel like a rejected one (a
different seed can); fallbacks are not kept, so the next run asks again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field, ValidationError

from dramaforge import prompts
from dramaforge.agents.critic import Critic
from dramaforge.agents.director import FRAMING_WORDS
from dramaforge.agents.structured import ask, unpack
from dramaforge.errors import ConfigError
from dramaforge.media.store import AssetStore, atomic_write, content_key
from dramaforge.schema import Critique, Language, Shot, StyleBible
from dramaforge.tools.openai.client import StructuredOutput
from dramaforge.tools.openai.failures import api_error, redact

MAX_SIDE = 768  # long side sent to the model: enough to judge a frame, a fraction of the tokens
CJK = re.compile(r"[\u3400-\u9fff]")


class Artifact(BaseModel):
    """A visible generation defect; ``blocking`` means the take cannot be used at any score."""

    description: str
    blocking: bool = False


class Verdict(BaseModel):
    """The reply asked of the vision model for one keyframe."""

    score: float = Field(ge=0.0, le=1.0)
    character_match: bool = True
    style_match: bool = True
    artifacts: list[Artifact] = Field(default_factory=list)
    issues: list[str] = Field(default_factory=list)
    revised_prompt: str | None = None


@dataclass
class VisionCritic:
    """Reviews keyframes with ``chat_model`` once ``heuristic`` has passed the take.

    ``threshold`` is the lowest passing score. ``structured_output`` picks how the reply is
    constrained, as for the LLM director (Qwen-VL in DashScope's compatible mode wants
    ``json_mode``). ``language`` overrides the prompt language (default: the script's, read
    from the shot). ``bible`` adds character descriptions and the look to the prompt; see
    ``with_bible``. ``redact`` lists secrets that must never appear in a message. ``store``
    keeps verdicts (see ``with_store``); without one every review asks the model.
    """

    name: str
    chat_model: BaseChatModel
    heuristic: Critic = field(default_factory=Critic)
    threshold: float = 0.6
    structured_output: StructuredOutput = "json_schema"
    language: Language | None = None
    bible: StyleBible | None = None
    endpoint: str = ""
    redact: Sequence[str] = field(default_factory=tuple, repr=False)
    store: AssetStore | None = field(default=None, repr=False)

    def with_bible(self, bible: StyleBible) -> VisionCritic:
        """The same reviewer, told the episode's characters and look."""
        return dataclasses.replace(self, bible=bible)

    def with_store(self, store: AssetStore) -> VisionCritic:
        """The same reviewer, keeping its verdicts in ``store`` so none is paid for twice."""
        return dataclasses.replace(self, store=store, heuristic=self.heuristic.with_store(store))

    def review(self, shot: Shot, **take: Any) -> Critique:
        """The heuristic checks of a finished take: its keyframe had its vision review before
        it was animated (``review_keyframe``), so the take only needs the objective ones."""
        return self.heuristic.review(shot, **take)

    def review_keyframe(
        self, shot: Shot, *, keyframe: Path, asset_key: str | None = None
    ) -> Critique:
        """Cheap checks, then the vision model, before any money goes to the video model."""
        checked = self.heuristic.review_keyframe(shot, keyframe=keyframe)
        if not checked.passed:
            return checked  # spend money last: a broken keyframe needs no opinion
        verdict, problem = self._ask(shot, keyframe, asset_key)
        if verdict is None:
            note = f"vision review unavailable ({problem}); heuristic checks only"
            return checked.model_copy(
                update={"issues": [*checked.issues, redact(note, self.redact)]}
            )
        return self._critique(verdict)

    # -- the request -----------------------------------------------------------------------

    def _ask(self, shot: Shot, keyframe: Path, asset_key: str | None) -> tuple[Verdict | None, str]:
        """The model's verdict, or (None, why not) after one retry of an unusable reply."""
        try:
            image = data_uri(keyframe)
        except (OSError, UnidentifiedImageError) as exc:
            return None, f"keyframe could not be encoded: {exc}"
        language = self.language or shot_language(shot)
        sections = prompts.sections("critic", language)
        system = sections["system"].format(threshold=self.threshold, schema=_schema_text())
        user = sections["user"].format(**self._values(shot))
        messages: list[BaseMessage] = [
            SystemMessage(system),
            HumanMessage(
                content=[
                    {"type": "text", "text": user},
                    {"type": "image_url", "image_url": {"url": image}},
                ]
            ),
        ]
        kept = self._kept([system, user], asset_key or image)
        if kept is not None and kept.is_file():
            try:
                return Verdict.model_validate_json(kept.read_text(encoding="utf-8")), ""
            except ValidationError:
                pass  # a damaged entry: ask again and replace it
        verdict, problem = self._request(messages, sections["retry"])
        if verdict is not None and kept is not None:
            atomic_write(kept, verdict.model_dump_json())
        return verdict, problem

    def _kept(self, prompt: list[str], image: str) -> Path | None:
        """Where the verdict on this request lives in the store (None: no store).

        ``image`` is the keyframe's asset key, or the image as sent when it has none.
        """
        if self.store is None:
            return None
        payload = {
            "endpoint": self.endpoint,
            "method": self.structured_output,
            "prompt": prompt,
            "image": hashlib.sha256(image.encode()).hexdigest(),
        }
        return self.store.path("verdict", content_key("verdict", self.name, payload), "json")

    def _request(self, messages: list[BaseMessage], retry: str) -> tuple[Verdict | None, str]:
        """Ask the model; an unusable reply is shown to it with ``retry`` and asked once more."""
        try:
            verdict, problem = ask(
                self.chat_model,
                Verdict,
                self.structured_output,
                messages,
                attempts=2,
                check=_check,
                retry=lambda error: retry.format(error=error),
            )
        except openai.APIError as exc:
            return None, self._api_problem(exc)
        if verdict is not None:
            return verdict, ""
        return None, f"no valid verdict in 2 attempts; last problem: {problem}"

    def _values(self, shot: Shot) -> dict[str, Any]:
        language = self.language or shot_language(shot)
        looks = self.bible.characters if self.bible else {}
        cast = [
            f"- {n}: {looks[n].description}" if n in looks and looks[n].description else f"- {n}"
            for n in shot.characters
        ]
        style = "-"
        if self.bible:
            palette = ", ".join(self.bible.palette)
            style = f"{self.bible.look}; {self.bible.era}" + (f"; {palette}" if palette else "")
        return {
            "shot_id": shot.id,
            "heading": shot.scene_heading,
            "time_of_day": shot.time_of_day or "-",
            "mood": shot.mood,
            "framing": FRAMING_WORDS[language][shot.framing],
            "camera": shot.camera,
            "visual_prompt": shot.visual_prompt,
            "action": shot.action or "-",
            "cast": "\n".join(cast) or "-",
            "style": style,
        }

    # -- the verdict -----------------------------------------------------------------------

    def _critique(self, verdict: Verdict) -> Critique:
        issues = list(verdict.issues)
        if not verdict.character_match and not issues:
            issues.append("the people in frame do not match the characters")
        if not verdict.style_match and not issues:
            issues.append("the image is not in the episode's style")
        blocking = [a.description for a in verdict.artifacts if a.blocking]
        issues += [f"artifact: {a}" for a in blocking]
        passed = verdict.score >= self.threshold and not blocking
        if not passed and verdict.score < self.threshold and not verdict.issues:
            issues.append(f"prompt adherence {verdict.score:.2f} is below {self.threshold:.2f}")
        revised = (verdict.revised_prompt or "").strip() or None
        return Critique(
            passed=passed,
            score=verdict.score,
            issues=issues,
            stage_at_fault=None if passed else "keyframe",
            revised_prompt=revised,
            reviewer=self.name,
        )

    # -- errors ----------------------------------------------------------------------------

    def _api_problem(self, exc: openai.APIError) -> str:
        """Why the request failed, for the fallback issue; a refused key is raised instead."""
        error = api_error(
            exc,
            where=f"critic {self.name}",
            via=self,
            key_help="set DRAMAFORGE_CRITIC_OPENAI__API_KEY (or OPENAI_API_KEY, shared with the "
            "director) to a valid key, or use the local:heuristic critic",
            bad_request_hint="check the model accepts images, or set openai.structured_output",
        )
        if isinstance(error, ConfigError):
            raise error from None
        return str(error)


# -- helpers ---------------------------------------------------------------------------------


def data_uri(path: Path, max_side: int = MAX_SIDE) -> str:
    """The image as a PNG data URI, shrunk (never enlarged) to ``max_side`` on the long side."""
    with Image.open(path) as img:
        img.load()
        frame = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    frame.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    frame.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def shot_language(shot: Shot) -> Language:
    """The script's language, read from what the script wrote (the prompt may be English)."""
    text = " ".join([shot.scene_heading, shot.action, *(line.text for line in shot.lines)])
    return "zh" if CJK.search(text) else "en"


def _schema_text() -> str:
    return json.dumps(Verdict.model_json_schema(), ensure_ascii=False)


def _check(result: Any) -> tuple[Verdict | None, str, str]:
    """(verdict, "", text) when the reply is usable, else (None, problem, text of the reply)."""
    return unpack(
        result, Verdict, "the reply held no verdict (expected a JSON object with 'score')"
    )
