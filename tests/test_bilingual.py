"""Bilingual subtitles (``--subtitles zh+en``): authored translations, a chat model's, none."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr
from typer.testing import CliRunner

from dramaforge.agents import translate
from dramaforge.cli.app import app
from dramaforge.errors import ConfigError
from dramaforge.graph.verbs import render_episode
from dramaforge.media.analysis import frame_at
from dramaforge.media.exports import export
from dramaforge.media.store import AssetStore
from dramaforge.media.subtitles import read_srt
from dramaforge.schema import Manifest
from dramaforge.script import load_script
from tests.fakes.openai_server import (
    FakeOpenAI,
    Reply,
    Request,
    cover_all,
    fake_openai,
    json_reply,
    messages_text,
)
from tests.helpers import provider_settings, settings_for

AUTHORED = """# 雨夜
【场景1】教室 - 夜 - 内
林小雨：你好。
（en）Hello there.
陈默：我们走吧。
(en) Let's go.
"""
PLAIN = """# 雨夜
【场景1】教室 - 夜 - 内
林小雨：你好。
陈默：我们走吧。
"""
SAVED = Path("/tmp/dramaforge_bilingual_frame.png")


def test_marker_reads_a_translation_only_after_a_spoken_line(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text(AUTHORED + "△ 雨声。\n（en）Not a translation.\n", encoding="utf-8")
    beats = load_script(script).scenes[0].beats
    spoken = [(b.text, b.translation) for b in beats if b.kind == "dialogue"]
    assert spoken == [("你好。", "Hello there."), ("我们走吧。", "Let's go.")]
    # After an action line the tag is not a translation: the line stays in the script.
    assert beats[-1].kind == "action" and "Not a translation." in beats[-1].text


def test_offline_without_translations_fails_before_rendering(tmp_path: Path) -> None:
    script = tmp_path / "plain.txt"
    script.write_text(PLAIN, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"（en）Hello|openai:MODEL") as err:
        render_episode(script, tmp_path / "out", settings_for(subtitles="zh+en"))
    assert "2 of 2 spoken lines" in str(err.value)
    assert not list((tmp_path / "out").rglob("*.wav")), "nothing is generated before the error"


def _text_rows(frame: np.ndarray, under: np.ndarray) -> list[tuple[int, int]]:
    """Bands of rows in the bottom 40% holding white subtitle fill (runs of >= 3 rows): white
    in the episode's frame, not in the clip's frame under it (name tags are white too)."""
    if under.shape != frame.shape:
        size = (frame.shape[1], frame.shape[0])
        under = np.asarray(Image.fromarray(under).resize(size))
    top = int(frame.shape[0] * 0.6)
    lit = (frame[top:].min(axis=2) > 225) & (under[top:].min(axis=2) < 200)
    white = lit.sum(axis=1) >= 3
    rows: list[tuple[int, int]] = []
    start = None
    for y, lit in enumerate([*white, False]):
        if lit and start is None:
            start = y
        elif not lit and start is not None:
            if rows and start - rows[-1][1] <= 2:  # a descender's gap: the same text row
                rows[-1] = (rows[-1][0], y)
            elif y - start >= 3:
                rows.append((start, y))
            start = None
    return rows


CJK = re.compile(r"[\u3400-\u9fff]")


def _check_rows(manifest: Manifest, known: dict[str, str], translation_first: bool) -> list[str]:
    """Every cue holds its Chinese lines (timed for reading: two short lines may share a cue,
    a dash each) and, as its own block, their translations in order; a frame under the first
    cue shows one text row per line."""
    cues = read_srt(Path(manifest.episode.srt))
    assert cues
    for cue in cues:
        lines = cue.text.splitlines()
        original = [ln for ln in lines if CJK.search(ln)]
        other = [ln for ln in lines if not CJK.search(ln)]
        assert original and other, cue.text
        blocks = [*other, *original] if translation_first else [*original, *other]
        assert lines == blocks, cue.text  # one block, then the other
        wanted = " ".join(known[ln.lstrip("-")] for ln in original)
        assert " ".join(other) == wanted, cue.text
    start = 0.0
    for result in manifest.shots:  # the shot of the first cue, and where it starts
        if result.take.cues:
            break
        start += result.duration
    local = (result.take.cues[0].start + result.take.cues[0].end) / 2
    frame = frame_at(Path(manifest.episode.path), start + local)
    Image.fromarray(frame).save(SAVED)
    rows = _text_rows(frame, frame_at(Path(result.take.motion.path), local))
    assert len(rows) == len(cues[0].text.splitlines()), rows
    ass = (Path(manifest.episode.path).parent / "episode.ass").read_text(encoding="utf-8-sig")
    assert "\\fs" in ass and "\\N" in ass  # the translation drawn smaller there too
    return [c.text for c in cues]


@pytest.mark.slow
def test_authored_translations_offline(tmp_path: Path) -> None:
    script = tmp_path / "authored.txt"
    script.write_text(AUTHORED, encoding="utf-8")
    settings = settings_for(resolution="480p", subtitles="zh+en")
    manifest = render_episode(script, tmp_path / "out", settings)
    texts = _check_rows(manifest, {"你好。": "Hello there.", "我们走吧。": "Let's go."}, False)
    # Writing the SRT again for editors keeps the translations the manifest does not hold.
    srt = Path(manifest.episode.srt)
    srt.unlink()
    export(srt.parent, "srt")
    assert not any(CJK.search(c.text) is None for c in read_srt(srt))
    assert "Let's go." not in srt.read_text(encoding="utf-8")  # nothing to keep
    render_episode(script, tmp_path / "out", settings)
    export(srt.parent, "srt")
    assert [c.text for c in read_srt(srt)] == texts


def _translations(request: Request) -> Reply:
    lines = re.findall(r"^\d+\. (.+)$", messages_text(request, "user"), re.MULTILINE)
    made = {"你好。": "Hi.", "我们走吧。": "Off we go."}
    return json_reply({"translations": [made.get(t, "?") for t in lines]})(request)


def _route(request: Request) -> Reply:
    if '"translations"' in messages_text(request, "system"):
        return _translations(request)
    return cover_all(request)


@pytest.mark.slow
def test_chat_model_translates_once_and_the_store_keeps_it(tmp_path: Path) -> None:
    server = FakeOpenAI(_route).start()
    script = tmp_path / "plain.txt"
    script.write_text(PLAIN, encoding="utf-8")
    base = settings_for(resolution="480p", subtitles="en+zh")
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"director": "openai:qwen-plus"}),
            "openai": provider_settings(server, api_key="sk-test-bilingual"),
        }
    )
    try:
        manifest = render_episode(script, tmp_path / "out", settings)
        asked = [r for r in server.requests if '"translations"' in messages_text(r, "system")]
        assert len(asked) == 1  # every line in one request
        assert "1. 你好。" in messages_text(asked[0], "user")
        # en+zh: the English translation on top, the Chinese line under it.
        _check_rows(manifest, {"你好。": "Hi.", "我们走吧。": "Off we go."}, True)
        # A changed option re-assembles: the original on top now, and the translations come
        # from the store, not from the model again.
        flipped = settings.model_copy(
            update={"render": settings.render.model_copy(update={"subtitles": "zh+en"})}
        )
        again = render_episode(script, tmp_path / "out", flipped)
    finally:
        server.stop()
    asked = [r for r in server.requests if '"translations"' in messages_text(r, "system")]
    assert len(asked) == 1
    _check_rows(again, {"你好。": "Hi.", "我们走吧。": "Off we go."}, False)


def test_cli_flag_reaches_the_render_and_fails_early_offline(tmp_path: Path) -> None:
    script = tmp_path / "plain.txt"
    script.write_text(PLAIN, encoding="utf-8")
    args = ["render", str(script), "--out", str(tmp_path / "out"), "--subtitles"]
    result = CliRunner().invoke(app, [*args, "zh+en"])
    assert result.exit_code == 3, result.output  # ConfigError
    assert "（en）Hello" in result.output and "Traceback" not in result.output
    assert CliRunner().invoke(app, [*args, "zh+fr"]).exit_code == 2  # not a choice


def test_a_reply_with_the_wrong_count_is_asked_again(tmp_path: Path) -> None:
    short = json_reply({"translations": ["Hi."]})
    with fake_openai(_translations) as server:
        server.then(short)
        base = settings_for()
        settings = base.model_copy(
            update={
                "backends": base.backends.model_copy(update={"director": "dashscope:qwen-plus"}),
                "dashscope": base.dashscope.model_copy(
                    update={"api_key": SecretStr("sk-test-ds"), "compatible_url": server.base_url}
                ),
            }
        )
        store = AssetStore(tmp_path / "store")
        lines = ["你好。", "我们走吧。", "你好。"]
        done = translate.translate(lines, "zh", "en", settings, store)
        again = translate.translate(lines, "zh", "en", settings, store)
    assert done == again == {"你好。": "Hi.", "我们走吧。": "Off we go."}
    assert len(server.requests) == 2  # the short reply, then the retry; the second call: none
    retry = messages_text(server.requests[1], "user")
    assert "1 translations for 2 lines" in retry
