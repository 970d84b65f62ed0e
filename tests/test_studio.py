"""The web studio, driven in a real headless Chromium over an episode rendered offline.

The browser does what a director does with a day's shots: opens the board, plays a clip,
edits a shot's prompt and redoes it, watches it render, compares the takes, goes back to the
old one and approves. The disk and the checkpoint thread must show that only that shot was
made again, and that rerender/chat see what the studio did. No request may leave 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from PIL import Image
from starlette.testclient import TestClient
from typer.testing import CliRunner

from dramaforge.cli.app import app as cli
from dramaforge.config import CastVoice, DashScopeSettings, VoiceSettings
from dramaforge.graph.batch import BatchReport, EpisodeReport
from dramaforge.graph.verbs import episode_session, render_episode, rerender_shot, session_for
from dramaforge.media.files import write_wav
from dramaforge.media.probe import probe
from dramaforge.schema import Manifest
from dramaforge.serve.studio import create_app
from tests.fakes.cosyvoice_server import FakeCosyVoice
from tests.fakes.dashscope_server import FakeDashScope
from tests.helpers import FIXTURES, counting_context, provider_settings, settings_for
from tests.studio_browser import ARTIFACTS, CHROMIUM, chromium, cjk_font_loaded, hosts, serving

browser = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"
)
NEW_PROMPT = "夜晚，窗外下着雨，阿明独自站在走廊"


def _workspace(root: Path, name: str) -> Path:
    (root / "scripts").mkdir(parents=True, exist_ok=True)
    script = root / "scripts" / f"{name}.zh.txt"
    shutil.copyfile(FIXTURES / "short.zh.txt", script)
    return script


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    print(f"screenshot: {path}")
    return path


def _images_loaded(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
    )


def _finish(page: Any, watch: str | None = None) -> str:
    """Wait for the render just started to finish (the page reloads); its job id."""
    job = str(page.wait_for_selector(".progress[data-job]").get_attribute("data-job"))
    if watch is not None:  # its progress shows live, per shot and stage
        page.wait_for_selector(f'.progress .stages tr[data-key="{watch}"]', state="attached")
    page.wait_for_selector(f'.progress[data-done-job="{job}"]', timeout=180_000)
    assert page.locator(".progress .bad").count() == 0, page.locator(".progress").inner_text()
    return job


@pytest.mark.slow
@browser
def test_director_redoes_one_shot_compares_takes_restores_and_approves(tmp_path: Path) -> None:
    settings = settings_for()
    script = _workspace(tmp_path, "short")
    out = tmp_path / "out"
    ctx, calls = counting_context(settings, out)
    first = render_episode(script, out, settings, context=ctx)
    episode = out / "short"
    calls.clear()
    target = first.shots[1].shot_id
    old_take = first.shots[1].take
    mp4_before = (episode / "episode.mp4").stat().st_mtime_ns

    seen: list[str] = []
    problems: list[str] = []
    app = create_app(tmp_path, settings, contexts={"out": ctx})
    with serving(app) as base, chromium("zh-CN", seen, problems) as page:
        page.goto(base + "/")
        page.click('a[href="/e/out/short"]')
        cards = page.locator(".card")
        cards.first.wait_for()
        _images_loaded(page)
        assert cards.count() == len(first.shots)
        for shot, result in zip(first.plan.shots, first.shots, strict=True):
            card = page.locator(f"#shot-{shot.id}")
            width = card.locator("img.keyframe").evaluate("img => img.complete && img.naturalWidth")
            assert width == Image.open(result.take.keyframe.path).width  # served and decoded
            for line in shot.lines:
                assert line.text in card.locator(".lines").inner_text()
            assert f"{result.take.critique.score:.2f}" in card.locator(".meta").inner_text()
        assert "阿明" in page.locator(".characters").inner_text()
        assert cjk_font_loaded(page)

        # Play the first shot's clip (with its voice): the browser decodes and advances it.
        cards.first.locator("button.play").click()
        page.wait_for_function(
            "() => { const v = document.querySelector('.card .frame video');"
            " return v && v.readyState >= 2 && v.currentTime > 0.2; }"
        )

        # Edit shot 2's prompt and redo it now; its progress shows live, per stage.
        card = page.locator(f"#shot-{target}")
        card.locator("details.edit summary").click()
        card.locator("details.edit textarea[name=prompt]").fill(NEW_PROMPT)
        card.locator("button.redo").click()
        job = _finish(page, watch=target)
        _images_loaded(page)
        takes = page.locator(f"#shot-{target} .take")
        assert takes.count() == 2
        assert "使用中" in takes.nth(1).inner_text()  # the new take is in use
        assert NEW_PROMPT in takes.nth(1).inner_text()
        assert takes.nth(0).locator("img").evaluate("i => i.naturalWidth") > 0
        page.screenshot(path=_artifact("board-takes-9x16.png"), full_page=True)

        # Back to the old take (nothing is generated), then approve on the render page.
        takes.nth(0).locator("button.restore").click()
        page.wait_for_selector(f'#shot-{target} .take[data-take="1"] .in-use')
        page.click("a.button[href$='/render']")
        page.wait_for_selector("button.approve")
        assert "0 / 5" in page.locator("section.approve").inner_text()  # nothing left to make
        page.click("button.approve")
        assert _finish(page) != job
        page.wait_for_selector("video.episode")

        page.goto(base + "/e/out/short")
        page.locator(".card").first.wait_for()
        _images_loaded(page)
        assert cjk_font_loaded(page)
        page.screenshot(path=_artifact("board-9x16.png"), full_page=True)

    # On disk: only the edited shot was made again, and the episode uses its old take.
    assert calls["image"] == 1 and calls["video"] == 1
    final = Manifest.model_validate_json((episode / "manifest.json").read_text("utf-8"))
    for before, after in zip(first.shots, final.shots, strict=True):
        if before.shot_id == target:
            assert [t.number for t in after.takes] == [1, 2]
            assert after.take.number == 1
            assert after.take.keyframe.key == old_take.keyframe.key
            assert after.takes[1].shot and after.takes[1].shot.visual_prompt == NEW_PROMPT
        else:
            assert len(after.takes) == 1
            assert after.take.keyframe.key == before.take.keyframe.key
            assert after.take.motion.key == before.take.motion.key
            assert not (episode / "shots" / before.shot_id / "take2_clip.mp4").exists()
    assert (episode / "shots" / target / "take2_clip.mp4").is_file()
    assert (episode / "episode.mp4").stat().st_mtime_ns > mp4_before  # re-assembled
    assert probe(episode / "episode.mp4").duration == pytest.approx(
        sum(r.duration for r in final.shots), abs=0.5
    )
    # The same checkpoint thread rerender and chat continue: it holds the restored shot.
    with episode_session(episode, settings) as session:
        assert session.results()[target].take.number == 1
        assert session.plan().shot(target).visual_prompt == old_take.shot.visual_prompt  # type: ignore[union-attr]
        assert session.to_render() == []
    assert hosts(seen) == {"127.0.0.1"}
    assert problems == []
    # And the reverse: what rerender does, the studio shows.
    rerender_shot(episode, settings, target, take=2)
    board = _client(tmp_path).get("/e/out/short").text
    chosen = board.split(f'id="shot-{target}"')[1].split("</article>")[0]
    assert 'data-take="2">' in chosen.split("take chosen")[1][:40]


@pytest.mark.slow
@browser
def test_wide_episode_board_and_home_load_locally(tmp_path: Path) -> None:
    settings = settings_for(aspect="16:9")
    script = _workspace(tmp_path, "wide")
    first = render_episode(script, tmp_path / "out", settings)
    seen: list[str] = []
    problems: list[str] = []
    app = create_app(tmp_path, settings)
    with serving(app) as base, chromium("en-US", seen, problems) as page:
        page.goto(base + "/")
        assert "rendered" in page.locator("tr.episode").inner_text()
        page.click('a[href="/e/out/wide"]')
        page.locator(".card").first.wait_for()
        _images_loaded(page)
        assert page.locator(".card").count() == len(first.shots)
        size = page.locator("img.keyframe").first.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        assert size == list(Image.open(first.shots[0].take.keyframe.path).size)
        assert size[0] > size[1]
        assert "Play" in page.locator(".card button.play").first.inner_text()
        page.click("a.lang")  # switch to Chinese
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
        assert "播放" in page.locator(".card button.play").first.inner_text()
        assert cjk_font_loaded(page)
        page.screenshot(path=_artifact("board-16x9.png"), full_page=True)
    assert hosts(seen) == {"127.0.0.1"}
    assert problems == []


# ---- without a browser: planning, the thread, confinement, the guard, languages -----------


def _client(root: Path, **kwargs: Any) -> TestClient:
    return TestClient(create_app(root, settings_for(), **kwargs), base_url="http://127.0.0.1")


def test_pasted_script_is_planned_into_the_chat_thread_and_edited_there(tmp_path: Path) -> None:
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path / "out")
    client = _client(tmp_path, contexts={"out": ctx})
    text = (FIXTURES / "short.zh.txt").read_text("utf-8")
    board = client.post("/plan", data={"name": "pasted", "text": text})
    assert board.url.path == "/e/out/pasted"
    assert board.text.count('class="card') == 5
    assert "awaiting approval" in board.text and "5</b> shot(s) to render" in board.text
    assert calls["image"] == calls["video"] == calls["speech"] == 0  # planning pays nothing

    edited = client.post("/e/out/pasted/shots/2/edit", data={"framing": "close_up"})
    assert edited.status_code == 200 and "msg" not in str(edited.url)
    client.post("/e/out/pasted/shots/1/move", data={"dir": "down"})
    refused = client.post("/e/out/pasted/shots/1/edit", data={"camera": "spin"})
    assert "one of" in refused.text  # the edit's own message, on the page
    again = client.post("/plan", data={"name": "pasted", "text": text + "\n阿明：再见。"})
    assert "exists already" in again.text

    # chat --resume opens the same thread and sees the studio's edits.
    script = tmp_path / "scripts" / "pasted.txt"
    with session_for(script, tmp_path / "out", settings, approve=True) as session:
        plan = session.plan()
        assert session.status() == "awaiting_approval"
        assert plan.shots[0].framing == "close_up"  # shot 2, moved up by moving shot 1 down
        assert plan.shots[1].camera != "spin"
    assert "pasted" in client.get("/").text

    # A draft of the edited plan, followed as server-sent events until it is done.
    client.post("/e/out/pasted/draft")
    job = client.app.state.studio.jobs.latest("out/pasted")  # type: ignore[attr-defined]
    with client.stream("GET", f"/jobs/{job.id}/events") as events:
        lines = [ln for ln in events.iter_lines() if ln.startswith("data: ")]
    last = json.loads(lines[-1].removeprefix("data: "))
    assert last["done"] and last["error"] is None and len(last["rendered"]) == 5
    assert any('"stage": "keyframe"' in ln for ln in lines)
    draft = tmp_path / "out" / "pasted" / "draft" / "episode.mp4"
    assert probe(draft).height == 640
    assert "/files/out/pasted/draft/episode.mp4" in client.get("/e/out/pasted/render").text


def test_cli_serves_the_studio_with_its_flags() -> None:
    shown = CliRunner().invoke(cli, ["studio", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    for flag in ("--root", "--host", "--port"):
        assert flag in shown.output


def test_only_workspace_media_is_served(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "out" / ".dramaforge").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "out" / "frame.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "secret.png")
    (root / "out" / "leak.png").symlink_to(tmp_path / "secret.png")
    (root / "out" / ".dramaforge" / "state.db").write_bytes(b"x")
    (root / "out" / ".dramaforge" / "task.json").write_text("{}")
    (root / "notes.py").write_text("x = 1")
    client = _client(root)
    ok = client.get("/files/out/frame.png")
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    for refused in (
        "/files/out/leak.png",  # a symlink out of the workspace
        "/files/%2e%2e/secret.png",
        "/files/out/.dramaforge/state.db",
        "/files/out/.dramaforge/task.json",
        "/files/notes.py",
    ):
        assert client.get(refused).status_code == 404, refused
    page = client.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    (root / "out" / "board.html").write_text("<script>fetch('/plan', {method: 'POST'})</script>")
    html = client.get("/files/out/board.html")  # a workspace page runs no script as the studio
    assert html.headers["content-security-policy"].startswith("sandbox;")
    font = client.get("/font/noto-sans-cjk.ttc")
    assert font.status_code == 200 and len(font.content) > 1_000_000


def test_guard_refuses_other_hosts_other_origins_and_missing_tokens(tmp_path: Path) -> None:
    open_app = _client(tmp_path)
    assert open_app.get("/", headers={"host": "evil.example"}).status_code == 403
    cross = open_app.post("/plan", data={"text": "x"}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    assert not (tmp_path / "scripts").exists()

    remote = TestClient(
        create_app(tmp_path, settings_for(), host="0.0.0.0", token="s3cret"),
        base_url="http://192.0.2.7:8700",
    )
    assert remote.get("/").status_code == 403
    assert remote.get("/?token=wrong").status_code == 403
    entered = remote.get("/?token=s3cret", follow_redirects=False)
    assert entered.status_code == 307 and "token" not in entered.headers["location"]
    assert remote.get("/").status_code == 200  # the cookie carries it from here


def test_language_follows_the_browser_and_the_switch(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert "<h1>剧集</h1>" in client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"}).text
    assert "<h1>Episodes</h1>" in client.get("/", headers={"accept-language": "fr,en;q=0.5"}).text
    switched = client.get("/lang/zh?next=//evil.example/", follow_redirects=False)
    assert switched.headers["location"] == "/"
    client.cookies.set("lang", "zh")
    assert "<h1>剧集</h1>" in client.get("/", headers={"accept-language": "en"}).text


def test_batch_view_shows_each_episode_of_a_series(tmp_path: Path) -> None:
    folder = tmp_path / "season1"
    (folder / "ep01").mkdir(parents=True)
    report = BatchReport(
        series="season1",
        episodes=[
            EpisodeReport(
                script="ep01.txt", status="done", episode=str(folder / "ep01" / "episode.mp4"),
                duration=12.5, shots=4, takes=5, cost=1.25,
            ),
            EpisodeReport(script="ep02.txt", status="failed", error="budget of 2.00 reached"),
        ],
    )  # fmt: skip
    (folder / "report.json").write_text(report.model_dump_json(), "utf-8")
    client = _client(tmp_path)
    assert 'href="/batch/season1"' in client.get("/").text
    page = client.get("/batch/season1").text
    assert 'href="/e/season1/ep01"' in page and "12.5s" in page
    assert "budget of 2.00 reached" in page and "1 failed" in page


CAST = """# 雨夜
角色：林小雨；老周（六十岁的老人，低沉苍老的男声）；阿明
【场景1】街角 - 夜 - 外
林小雨：你还在等吗？
老周：一直在等。
阿明：我也在。
"""


def _voice_origins(page: str) -> dict[str, str]:
    """Each person in the board's cast (and the narrator), by name: their voice's origin."""
    found = {}
    for person in page.split('<form class="person"')[1:]:
        name = re.search(r"<h3>(.*?)</h3>", person, re.S)
        origin = re.search(r'data-origin="(\w+)"', person)
        assert name and origin, person
        found[re.sub(r"<[^>]+>", "", name[1])] = origin[1]
    return found


def test_the_cast_shows_where_each_voice_came_from_and_a_clones_consent(
    tmp_path: Path, dashscope_server: FakeDashScope, cosyvoice_server: FakeCosyVoice
) -> None:
    """CosyVoice speech: 林小雨 cloned from a sample her owner affirmed, 老周 described (CosyVoice
    cannot design: the closest stock voice), 阿明 and the narrator stock voices. The consent
    shown is the bible's, which every manifest that uses the voice carries."""
    sample = tmp_path / "voices" / "xiaoyu.wav"
    sample.parent.mkdir()
    rate = 16000
    tone = (int(8000 * math.sin(2 * math.pi * 180 * i / rate)) for i in range(12 * rate))
    write_wav(sample, b"".join(struct.pack("<h", v) for v in tone), channels=1, rate=rate)
    base = settings_for(max_takes=1)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"speech": "dashscope:cosyvoice-v2"}),
            "dashscope": provider_settings(
                dashscope_server, DashScopeSettings, websocket_url=cosyvoice_server.url
            ),
            "voices": VoiceSettings(
                cast={"林小雨": CastVoice(sample=sample, owner="Wang Fang", consent=True)}
            ),
        }
    )
    client = TestClient(create_app(tmp_path, settings), base_url="http://127.0.0.1")
    page = client.post("/plan", data={"name": "rain", "text": CAST})
    assert page.url.path == "/e/out/rain"
    origins = _voice_origins(page.text)
    # planned, not paid for: the clone waits for approval, with the consent it will carry
    assert origins == {
        "林小雨": "to_clone",
        "老周": "matched",
        "阿明": "stock",
        "Narrator": "stock",
    }
    assert "Voice to clone once you approve" in page.text
    assert "Sample given by Wang Fang · owns the voice (affirmed)" in page.text
    assert dashscope_server.voices.calls == 0 and not dashscope_server.uploads.files
    script = tmp_path / "scripts" / "rain.txt"
    with session_for(script, tmp_path / "out", settings, approve=True) as s:  # approved
        for _ in s.graph.stream(
            Command(resume="approve"), s.config, context=s.context, interrupt_before=["ahead"]
        ):
            pass
    assert dashscope_server.voices.calls == 1
    page = client.get("/e/out/rain")
    origins = _voice_origins(page.text)
    assert origins == {"林小雨": "cloned", "老周": "matched", "阿明": "stock", "Narrator": "stock"}
    assert "Cloned from a sample" in page.text
    assert "Stock voice closest to the words: <q>六十岁的老人，低沉苍老的男声</q>" in page.text
    assert "Sample given by Wang Fang · owns the voice (affirmed)" in page.text
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    assert f'title="SHA-256 {digest}"' in page.text
    assert page.text.count('class="consent') == 1  # only the clone has a consent
    zh = client.get("/e/out/rain", headers={"accept-language": "zh"}).text
    assert "由样本克隆" in zh and "样本提供者 Wang Fang · 已确认拥有此声音" in zh
