"""Each character's reference sheet, drawn once per series and kept in the series bible: the
offline painter's sheet (front, three-quarter, outfit), an episode's keyframes drawn and
judged against it, and a second episode that draws no sheet again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from dramaforge.agents import identity
from dramaforge.config import IdentitySettings, Settings
from dramaforge.errors import ContentRejected
from dramaforge.graph.context import RenderContext
from dramaforge.graph.verbs import render_episode
from dramaforge.schema import Manifest
from dramaforge.serve.studio import create_app
from dramaforge.tools.local.storyboard import StoryboardBackend, sheet
from dramaforge.tools.protocols import ImageRequest
from tests.helpers import FIXTURES, counting_context, settings_for
from tests.test_batch import EPISODE_2

CAST = {"阿明": ("#e05030", 0), "小雪": ("#3080b0", 1)}


def _request(cast: dict[str, tuple[str, int]], framing: str, seed: int = 3) -> ImageRequest:
    return ImageRequest(
        prompt="",
        width=432,
        height=768,
        seed=seed,
        framing=framing,  # type: ignore[arg-type]
        scene_heading="教室 - 白天 - 内",
        characters=cast,
        focus=next(iter(cast)),
    )


def test_the_painter_draws_a_sheet_that_keyframes_are_judged_against(tmp_path: Path) -> None:
    request = _request({"阿明": CAST["阿明"]}, "close_up").model_copy(update={"scene_heading": ""})
    drawn = sheet(request)
    assert drawn.size == (3 * 432, 768)  # front, three-quarter, outfit side by side
    faces = identity.faces_in(np.asarray(drawn))
    assert len(faces) == 3 and all(f.kind == "drawn" for f in faces)
    # One face in each panel.
    assert [f.box[0] // 432 for f in sorted(faces, key=lambda f: f.box[0])] == [0, 1, 2]
    ref = tmp_path / "sheet.png"
    StoryboardBackend().draw_sheet(request, ref)
    with Image.open(ref) as saved:
        assert np.array_equal(np.asarray(saved.convert("RGB")), np.asarray(drawn))

    painter = StoryboardBackend()
    for name, framing, cast in (
        ("close", "close_up", {"阿明": CAST["阿明"]}),
        ("both", "medium", CAST),
        ("unlike", "close_up", {"阿明": CAST["小雪"]}),
    ):
        painter.generate(_request(cast, framing), tmp_path / f"{name}.png")
    for name in ("close", "both"):
        seen = identity.judge(tmp_path / f"{name}.png", {"阿明": ref}, in_frame=len(CAST))
        assert seen.scores["阿明"] == pytest.approx(1.0, abs=0.01), name
        assert seen.copies == [] and not seen.below()  # a sheet is never a keyframe's copy
    unlike = identity.judge(tmp_path / "unlike.png", {"阿明": ref}, in_frame=1)
    assert unlike.below() == {"阿明": pytest.approx(unlike.scores["阿明"])}


@pytest.mark.slow
def test_a_series_draws_each_sheet_once_and_measures_identity_against_it(
    tmp_path: Path,
) -> None:
    settings = settings_for(concurrency=1)
    out = tmp_path / "out"
    script = tmp_path / "short.zh.txt"
    shutil.copyfile(FIXTURES / "short.zh.txt", script)
    ctx, _ = counting_context(settings, out)
    first = render_episode(script, out, settings, series="s", context=ctx)
    bible_file = settings.state_root(out) / "series" / "s.json"
    kept = json.loads(bible_file.read_text(encoding="utf-8"))
    for name in ("阿明", "小雪"):
        sheet_path = Path(kept[name]["reference_image"])
        assert sheet_path.parent == bible_file.with_suffix("")  # beside the bible
        assert sheet_path.name.startswith("sheet-")
        with Image.open(sheet_path) as im:
            assert im.size == (3 * first.episode.width, first.episode.height)
        assert first.bible.characters[name].reference_image == str(sheet_path)
        # Every keyframe was judged against the sheet: none is its copy, all are alike.
        faces = next(c for c in first.identity.characters if c.name == name)
        assert faces.shots and faces.cross_worst is not None
        assert faces.cross_worst >= identity.LIKENESS["drawn"]
        likeness = next(c for c in first.consistency if c.name == name)
        assert likeness.reference_from == "bible"
    assert first.identity.copies == []
    _studio_shows_identity(tmp_path, settings, ctx, first)
    drawn_once = {n: kept[n]["reference_image"] for n in kept}
    ep2 = tmp_path / "ep02.txt"
    ep2.write_text(EPISODE_2, encoding="utf-8")
    second = render_episode(ep2, out, settings, series="s", context=ctx)
    again = json.loads(bible_file.read_text(encoding="utf-8"))
    for name in ("阿明", "小雪"):  # the series keeps its sheets; the newcomer gets one
        assert again[name]["reference_image"] == drawn_once[name]
        assert second.bible.characters[name].reference_image == drawn_once[name]
    assert Path(again["老师"]["reference_image"]).name.startswith("sheet-")


def _studio_shows_identity(
    root: Path, settings: Settings, ctx: RenderContext, ep: Manifest
) -> None:
    """The board and the review page show each character's cross/self mean and worst, each
    shot's likeness per character, and the copy guard's verdict: the manifest's figures."""
    app = create_app(root, settings, contexts={"out": ctx})
    client = TestClient(app, base_url="http://127.0.0.1")
    board = client.get("/e/out/short")
    review = client.get("/e/out/short/render")
    assert board.status_code == review.status_code == 200
    for page in (board.text, review.text):
        table = page.split('<table class="identity-scores">')[1].split("</table>")[0]
        for c in ep.identity.characters:
            row = table.split(f'<tr data-character="{c.name}">')[1].split("</tr>")[0]
            cells = [f"{v:.2f}" if v is not None else "–" for v in (
                c.cross_mean, c.cross_worst, c.self_mean, c.self_worst
            )]  # fmt: skip
            assert [cell.split(">")[1] for cell in row.split("</td>")[1:5]] == cells, row
        assert '<p class="copy-guard good">no keyframe copies' in page  # the copy guard
    for c in ep.identity.characters:
        for shot_id, score in c.shots.items():
            card = board.text.split(f'id="shot-{shot_id}"')[1].split("</article>")[0]
            assert f'data-character="{c.name}">{c.name} {score:.2f}</span>' in card


def test_plan_and_render_print_one_identity_line(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from dramaforge.cli.app import app
    from dramaforge.cli.identity_line import _LIKENESS, render_line
    from dramaforge.schema import CharacterIdentity, IdentityReport

    assert _LIKENESS == identity.LIKENESS  # the CLI's copy, kept free of numpy
    monkeypatch.chdir(tmp_path)
    printed = CliRunner().invoke(app, ["plan", str(FIXTURES / "short.zh.txt")])
    assert printed.exit_code == 0, printed.output
    text = " ".join(printed.output.split())  # the console wraps long lines
    assert text.count("identity: ") == 1
    assert (
        "identity: 5 keyframes with people (2 characters) judged against their reference "
        "sheets (drawn once per series); redrawn below 0.50 (drawn faces) / 0.90 (real faces)"
    ) in text
    faces = IdentityReport(
        characters=[
            CharacterIdentity(name="阿明", cross_mean=0.97, cross_worst=0.93),
            CharacterIdentity(name="小雪", cross_mean=0.71, cross_worst=0.42),
        ],
        cross_mean=0.84,
        cross_worst=0.42,
        self_mean=0.9,
        self_worst=0.8,
        copies=["s01-03"],
    )
    assert render_line(faces) == (
        "identity: vs reference 0.84 mean, 0.42 worst (小雪); across shots 0.90 mean, 0.80 "
        "worst; copies of a reference: s01-03"
    )
    assert render_line(IdentityReport()).startswith("identity: not measured")


class NoSheets:
    """The painter, behind a model that refuses to draw reference sheets (as a moderated
    provider may): keyframes are drawn, sheets are not."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, "fake:no-sheets"
        self.refused: list[str] = []

    def generate(self, request: ImageRequest, dest: Path, journal: object = None) -> Any:
        if "角色设定图" in request.prompt:
            self.refused.append(request.focus or "")
            raise ContentRejected("the request was refused by moderation")
        return self.inner.generate(request, dest)


@pytest.mark.slow
def test_a_sheet_not_drawn_leaves_the_reference_to_the_episode(tmp_path: Path) -> None:
    settings = settings_for(concurrency=1)
    ctx, _ = counting_context(settings, tmp_path)
    ctx.image = NoSheets(ctx.image)  # type: ignore[assignment]
    made = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, series="s", context=ctx)
    assert sorted(ctx.image.refused) == sorted(made.bible.characters)  # type: ignore[attr-defined]
    for c in made.consistency:  # picked from the episode's own keyframes, as before sheets
        assert c.reference_from in {s.id for s in made.plan.shots}, c
        assert not Path(c.reference).name.startswith("sheet-")


@pytest.mark.slow
def test_a_reference_taking_model_draws_every_focus_keyframe_from_the_sheet(
    tmp_path: Path,
) -> None:
    from dramaforge.tools.dashscope.image import reference_file
    from tests.fakes.dashscope_server import FakeDashScope
    from tests.test_series_references import I2I, T2I, _bytes, _settings

    with FakeDashScope() as fake:
        settings = _settings(fake).model_copy(update={"identity": IdentitySettings()})
        made = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, series="s")
    tasks = list(fake.tasks.values())
    sheets = [t for t in tasks if "角色设定图" in t.body["input"]["prompt"]]
    # One sheet per character, drawn from text (there is nothing to draw it from yet).
    assert len(sheets) == len(made.bible.characters) and {t.model for t in sheets} == {T2I}
    prompts = {r.shot_id: r.take.keyframe.prompt for r in made.shots}
    drawn_from_sheet = 0
    for shot in made.plan.shots:
        (task,) = [t for t in tasks if t.body["input"]["prompt"] == prompts[shot.id]]
        look = made.bible.characters.get(shot.focus or "")
        if look is None:
            assert task.model == T2I, shot.id
            continue
        assert look.reference_image and Path(look.reference_image).name.startswith("sheet-")
        # The server got the sheet, as the backend sends any reference (scaled into the
        # sides the model accepts).
        sent = reference_file(Path(look.reference_image), tmp_path / f"{shot.id}.png")
        assert task.model == I2I, shot.id
        assert _bytes(fake, task) == [sent.read_bytes()], shot.id
        drawn_from_sheet += 1
    assert drawn_from_sheet >= 2
