"""The LLM director: Script -> ShotPlan through any LangChain chat model with structured output.

The model only decides the cutting: framing, camera move, which spoken lines each shot carries
(by number), the on-screen action and a visual prompt. Everything the rest of the pipeline relies
on is built here in code: ids, scene fields, the dialogue copied verbatim from the script,
durations from speech length, music and mood. So a model can never rewrite a line, drop one or
invent one; a reply that tries is rejected, the reason fed back, and the scene asked again.

Scenes are directed one request each (no request grows with the script) and concurrently on a
small thread pool, then merged in script order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from dramaforge import prompts
from dramaforge.agents.director import (
    RuleDirector,
    estimate_seconds,
    line_from_beat,
    mood_of,
    safe_prompt,
    scene_prompt,
)
from dramaforge.agents.plan_repair import SceneDraft, SceneFacts, ShotDraft, repair_scene
from dramaforge.agents.structured import (
    ask,
    unpack,
)
from dramaforge.errors import DramaforgeError
from dramaforge.schema import (
    Beat,
    Language,
    Line,
    PlanRepair,
    Scene,
    Script,
    Shot,
    ShotPlan,
)
from dramaforge.tools.openai.client import StructuredOutput
from dramaforge.tools.openai.failures import api_error, redact

SPOKEN = ("dialogue", "narration")


@dataclass
class LLMDirector:
    """Directs each scene with ``chat_model``; ``name`` (``openai:model``) goes in the manifest.

    ``structured_output`` picks how the reply is constrained: ``json_schema`` (OpenAI, vLLM,
    llama.cpp), ``function_calling`` (most hosted models) or ``json_mode`` (DeepSeek, older
    servers). ``retries`` is how many times a scene is asked again after a rejected reply.
    ``language`` overrides the prompt language (default: the script's). ``redact`` lists
    secrets that must never appear in an error message.
    """

    name: str
    chat_model: BaseChatModel
    min_shot: float = 2.0
    max_shot: float = 8.0
    language: Language | None = None
    structured_output: StructuredOutput = "json_schema"
    retries: int = 2
    concurrency: int = 2
    endpoint: str = ""
    redact: Sequence[str] = field(default_factory=tuple, repr=False)

    def direct(self, script: Script) -> ShotPlan:
        if not script.scenes:
            return ShotPlan(title=script.title, language=script.language, shots=[])
        workers = max(1, min(self.concurrency, len(script.scenes)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="director") as pool:
            futures = [pool.submit(self._scene, script, scene) for scene in script.scenes]
            try:
                per_scene = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        shots = [s for scene_shots, _ in per_scene for s in scene_shots]
        shots = [s.model_copy(update={"index": i + 1}) for i, s in enumerate(shots)]
        repairs = [*script.notes, *(r for _, scene_repairs in per_scene for r in scene_repairs)]
        return ShotPlan(
            title=script.title,
            language=script.language,
            shots=shots,
            director=self.name,
            repairs=repairs,
        )

    # -- one scene -------------------------------------------------------------------------

    def rewrite(self, shot: Shot, prompt: str, reason: str, language: Language) -> str:
        """Ask the model once for a version of a refused prompt that keeps the shot; if it
        fails or answers nothing, the rule director's neutral rewrite."""
        ask = prompts.template("rewrite", language).format(reason=reason, prompt=prompt)
        try:
            reply = self.chat_model.invoke([HumanMessage(ask)])
        except openai.OpenAIError:
            return safe_prompt(shot, language)
        text = " ".join(str(reply.content).split()).strip().strip("\"'“”")
        return text[:MAX_REWRITE] if text else safe_prompt(shot, language)

    def _scene(self, script: Script, scene: Scene) -> tuple[list[Shot], list[PlanRepair]]:
        """The scene's shots and what was repaired in them. A reply still wrong after the
        model has been told why is repaired in code; one beyond repair, or no usable reply
        at all, gives the rule director's shots for this scene alone."""
        language = self.language or script.language
        if scene.shots or any(b.kind == "card" for b in scene.beats):
            # a shot list's shots are kept as listed, a title card is a card: rules place them
            return self._by_rule(script, scene, language), []
        spoken = [b for b in scene.beats if b.kind in SPOKEN]
        sections = prompts.sections("director", language)
        limits = {"min_shot": f"{self.min_shot:g}", "max_shot": f"{self.max_shot:g}"}
        messages: list[BaseMessage] = [
            SystemMessage(sections["system"].format(schema=_schema_text(), **limits)),
            HumanMessage(sections["user"].format(**_scene_values(script, scene, len(spoken)))),
        ]
        attempts = self.retries + 1
        seen: list[SceneDraft] = []
        try:
            draft, problem = ask(
                self.chat_model,
                SceneDraft,
                self.structured_output,
                messages,
                attempts=attempts,
                check=lambda result: _check(result, len(spoken), seen),
                retry=lambda error: sections["retry"].format(error=error, scene_index=scene.index),
            )
        except openai.APIError as exc:
            raise self._api_error(exc, scene) from None
        cast = [c.name for c in script.characters]
        facts = SceneFacts.of(scene, cast, self.min_shot, self.max_shot)
        last = draft if draft is not None else (seen[-1] if seen else None)
        if last is not None:
            fixed = repair_scene(last, facts)
            if fixed.draft is not None:
                return self._shots(script, scene, spoken, fixed.draft, language), fixed.repairs
            problem = f"{fixed.reason} (last problem: {problem})" if problem else fixed.reason
        else:
            problem = f"no usable shot list in {attempts} attempts (last problem: {problem})"
        detail = (
            f"{self.name}: {problem}; if this recurs, try a stronger model or another "
            "openai.structured_output method"
        )
        fallback = PlanRepair(
            scene=scene.index, kind="fallback", detail=redact(detail, self.redact)
        )
        return self._by_rule(script, scene, language), [fallback]

    def _by_rule(self, script: Script, scene: Scene, language: Language) -> list[Shot]:
        """This scene alone, planned by the rule director (ids as the model's would be)."""
        rules = RuleDirector(min_shot=self.min_shot, max_shot=self.max_shot)
        alone = script.model_copy(update={"scenes": [scene], "language": language, "notes": []})
        return rules.direct(alone).shots

    def _shots(
        self,
        script: Script,
        scene: Scene,
        spoken: list[Beat],
        draft: SceneDraft,
        language: Language,
    ) -> list[Shot]:
        music = next((b.text for b in scene.beats if b.kind == "music"), None)
        mood = mood_of(music or "", scene.time_of_day, scene.heading)
        shots = []
        for n, d in enumerate(draft.shots):
            lines = [line_from_beat(spoken[i - 1]) for i in d.lines]
            characters = [c.strip() for c in d.characters if c.strip()]
            if not characters:  # a model that names nobody in frame: whoever speaks is seen
                seen = (ln.speaker for ln in lines if not ln.heard_only and ln.speaker)
                characters = list(dict.fromkeys(s for s in seen if s))
            shots.append(
                Shot(
                    id=f"s{scene.index:02d}-{n + 1:02d}",
                    index=n + 1,  # renumbered across the episode in direct()
                    scene_index=scene.index,
                    scene_heading=scene.heading,
                    duration=self._duration(d, lines, language),
                    framing=d.framing,
                    camera=d.camera,
                    visual_prompt=d.visual_prompt.strip()
                    or _fallback_prompt(language, scene, d, characters),
                    action=d.action.strip(),
                    characters=characters,
                    focus=(d.focus or "").strip() or None,
                    lines=lines,
                    sfx=[s.strip() for s in d.sfx if s.strip()],
                    music=music,
                    mood=mood,
                    time_of_day=scene.time_of_day,
                )
            )
        return shots

    def _duration(self, d: ShotDraft, lines: list[Line], language: Language) -> float:
        """The rule director's estimate from speech, which the voice stage replaces with the
        real length; a silent shot holds as long as the model asked (already within limits)."""
        estimate = estimate_seconds(lines, language, self.min_shot, self.max_shot)
        if d.duration is None:
            return estimate
        return round(d.duration if not lines else max(d.duration, estimate), 2)

    # -- errors ----------------------------------------------------------------------------

    def _api_error(self, exc: openai.APIError, scene: Scene) -> DramaforgeError:
        return api_error(
            exc,
            where=f"director {self.name}, scene {scene.index}",
            via=self,
            key_help="set OPENAI_API_KEY (or DRAMAFORGE_OPENAI__API_KEY) to a valid key",
        )


MAX_REWRITE = 1500  # characters: longer than any provider's prompt limit is no use


# -- prompt building -------------------------------------------------------------------------


def _schema_text() -> str:
    return json.dumps(SceneDraft.model_json_schema(), ensure_ascii=False)


def _scene_values(script: Script, scene: Scene, line_count: int) -> dict[str, Any]:
    speakers = [b.speaker for b in scene.beats if b.kind == "dialogue" and b.speaker]
    cast = list(dict.fromkeys(speakers)) or [c.name for c in script.characters]
    known = {c.name: c.description for c in script.characters}
    cast_text = "; ".join(f"{n} ({known[n]})" if known.get(n) else n for n in cast) or "-"
    return {
        "scene_index": scene.index,
        "heading": scene.heading,
        "location": scene.location or scene.heading,
        "time_of_day": scene.time_of_day or "-",
        "cast": cast_text,
        "beats": "\n".join(_beat_lines(scene)),
        "line_count": line_count,
    }


def _beat_lines(scene: Scene) -> list[str]:
    out, n = [], 0
    for beat in scene.beats:
        if beat.kind == "dialogue":
            n += 1
            how = f" ({beat.parenthetical})" if beat.parenthetical else ""
            out.append(f"[L{n}] dialogue {beat.speaker or '?'}{how}: {beat.text}")
        elif beat.kind == "narration":
            n += 1
            out.append(f"[L{n}] narration: {beat.text}")
        else:
            out.append(f"- {beat.kind}: {beat.text}")
    return out


def _fallback_prompt(language: Language, scene: Scene, d: ShotDraft, cast: list[str]) -> str:
    return scene_prompt(language, scene, d.framing, cast, d.action)


# -- checking a reply ------------------------------------------------------------------------


def _check(
    result: Any, line_count: int, seen: list[SceneDraft]
) -> tuple[SceneDraft | None, str, str]:
    """(draft, "", text) when the reply is usable, else (None, problem, text of the reply).
    Every schema-valid draft is added to ``seen``: the last one is repaired if none is usable."""
    what = "the reply held no shot list (expected a JSON object with 'shots')"
    parsed, problem, text = unpack(result, SceneDraft, what)
    if parsed is None:
        return None, problem, text
    seen.append(parsed)
    problem = coverage_problem(parsed, line_count)
    return (None, problem, text) if problem else (parsed, "", text)


def coverage_problem(draft: SceneDraft, line_count: int) -> str:
    """Why ``draft`` does not carry lines 1..line_count once each in order, or ''."""
    if not draft.shots:
        return "the shot list is empty; give at least one shot"
    numbers = [n for shot in draft.shots for n in shot.lines]
    unknown = sorted({n for n in numbers if not 1 <= n <= line_count})
    if unknown:
        return f"line numbers {unknown} do not exist; the scene has lines 1 to {line_count}"
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        return f"lines {repeated} appear in more than one shot; each line goes in exactly one shot"
    missing = [n for n in range(1, line_count + 1) if n not in numbers]
    if missing:
        return f"lines {missing} are not in any shot; every spoken line must be covered"
    if numbers != sorted(numbers):
        return f"lines are out of script order ({numbers}); keep them in order 1 to {line_count}"
    return ""
