"""The rule-based director and the style bible, on hand-built scripts."""

from __future__ import annotations

from dramaforge.agents.bible import build_bible, motion_prompt, shot_prompt
from dramaforge.agents.director import RuleDirector, speech_seconds
from dramaforge.schema import Beat, Character, Scene, Script, Voice


def _script() -> Script:
    beats = [
        Beat(kind="action", text="阳光洒在课桌上。", source_line=3),
        Beat(kind="music", text="轻快的钢琴曲", source_line=4),
        Beat(kind="narration", text="那年夏天，新同桌来了。", source_line=5),
        Beat(kind="sfx", text="上课铃声", source_line=6),
        Beat(kind="dialogue", speaker="林小雨", text="你好，我叫林小雨。", source_line=7),
        Beat(kind="dialogue", speaker="陈默", text="陈默。", source_line=8),
        Beat(
            kind="dialogue",
            speaker="林小雨",
            text="你也喜欢这本书吗？我看了三遍了，真的很好看。",
            source_line=9,
        ),
        Beat(
            kind="dialogue",
            speaker="林小雨",
            text="结局让我哭了好久，你呢？你看完了吗？",
            source_line=10,
        ),
        Beat(kind="dialogue", speaker="林小雨", text="你怎么不说话？", source_line=11),
        Beat(kind="sfx", text="翻书声", source_line=12),
    ]
    return Script(
        title="同桌的小秘密",
        language="zh",
        format="marker",
        characters=[
            Character(name="林小雨", description="扎马尾的高二女生"),
            Character(name="陈默", description="戴眼镜的转学生"),
        ],
        scenes=[
            Scene(index=1, heading="教室 - 白天", location="教室", time_of_day="白天", beats=beats)
        ],
    )


def test_every_spoken_line_lands_on_exactly_one_shot_in_order() -> None:
    script = _script()
    plan = RuleDirector().direct(script)
    placed = [line.text for s in plan.shots for line in s.lines]
    assert placed == [b.text for b in script.spoken_lines()]
    assert all(len(s.lines) <= 2 for s in plan.shots)


def test_framing_opens_wide_and_varies() -> None:
    plan = RuleDirector().direct(_script())
    assert plan.shots[0].framing == "wide"
    assert plan.shots[0].lines[0].narration
    assert {s.framing for s in plan.shots} >= {"wide", "close_up"}
    assert len({s.camera for s in plan.shots}) >= 2
    assert [s.id for s in plan.shots] == [f"s01-{i:02d}" for i in range(1, len(plan.shots) + 1)]


def test_sound_cues_are_placed_and_music_carried() -> None:
    plan = RuleDirector().direct(_script())
    sfx = [c for s in plan.shots for c in s.sfx]
    assert sfx == ["上课铃声", "翻书声"]
    assert all(s.music == "轻快的钢琴曲" for s in plan.shots)
    assert all(s.mood == "happy" for s in plan.shots)


def test_durations_follow_speech_within_bounds() -> None:
    director = RuleDirector(min_shot=2.0, max_shot=8.0)
    plan = director.direct(_script())
    assert all(2.0 <= s.duration <= 8.0 for s in plan.shots)
    longest = max(plan.shots, key=lambda s: sum(len(ln.text) for ln in s.lines))
    shortest = min(
        (s for s in plan.shots if s.lines), key=lambda s: sum(len(ln.text) for ln in s.lines)
    )
    assert longest.duration > shortest.duration
    assert speech_seconds("Hello there, how are you today?", "en") > speech_seconds("Hi.", "en")


def test_bible_fixes_colour_slot_seed_and_voice_per_character() -> None:
    script = _script()
    plan = RuleDirector().direct(script)
    voices = [Voice(id=f"v{i}") for i in range(4)]
    bible = build_bible(script, plan, voices)
    again = build_bible(script, plan, voices)
    assert bible == again
    a, b = bible.characters["林小雨"], bible.characters["陈默"]
    assert (a.slot, b.slot) == (0, 1)
    assert a.color != b.color and a.seed != b.seed and a.voice != b.voice
    assert bible.narrator == voices[0]
    close = next(s for s in plan.shots if s.framing == "close_up")
    prompt = shot_prompt(close, bible, "zh")
    assert bible.look in prompt
    assert bible.characters[close.focus or ""].description in prompt


def test_motion_prompt_says_the_move_the_action_and_who_talks() -> None:
    script = _script()
    plan = RuleDirector().direct(script)
    voices = [Voice(id=f"v{i}") for i in range(4)]
    bible = build_bible(script, plan, voices)
    talking = next(s for s in plan.shots if s.lines and s.lines[0].speaker)
    zh = motion_prompt(talking.model_copy(update={"camera": "zoom_in"}), bible, "zh")
    assert zh.startswith("镜头缓慢推近") and "在说话" in zh and talking.lines[0].speaker in zh
    assert bible.look in zh and "zoom_in" not in zh
    en = motion_prompt(talking.model_copy(update={"camera": "pan_left"}), bible, "en")
    assert en.startswith("Slow pan to the left.") and "talking" in en
