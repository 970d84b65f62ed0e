"""Exports for editors: render an episode offline, read every export back and check it
against the episode itself (its probed length, its SRT, the files on disk)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from PIL import Image
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.graph.verbs import render_episode, rerender_shot
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.fonts import font_dir
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import filter_escape, read_srt
from dramaforge.schema import Manifest
from tests.helpers import FIXTURES, settings_for

pytestmark = pytest.mark.slow

REDONE = "s01-02"  # redone once, so it has an alternate take


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    out = tmp_path_factory.mktemp("exports")
    settings = settings_for()
    first = render_episode(FIXTURES / "short.zh.txt", out, settings)
    episode_dir = Path(first.episode.path).parent
    manifest = rerender_shot(episode_dir, settings, REDONE, prompt="雨中的教室，窗外闪电")
    return manifest, episode_dir


def _frames(t: otio.opentime.RationalTime, fps: int) -> int:
    return round(t.rescaled_to(fps).value)


def _resolve(episode_dir: Path, url: str) -> Path:
    return episode_dir / url if "://" not in url else Path(url.removeprefix("file://"))


def test_otio_timeline_reads_back(episode: tuple[Manifest, Path]) -> None:
    manifest, episode_dir = episode
    fps = manifest.episode.fps or 0
    assert fps == 25
    timeline = otio.adapters.read_from_file(str(episode_dir / "episode.otio"))
    tracks = {t.name: t for t in timeline.tracks}
    video = tracks["Video"]
    assert video.kind == otio.schema.TrackKind.Video
    clips = list(video.find_clips())
    assert len(clips) == len(manifest.shots) == 5
    length = probe(episode_dir / "episode.mp4").duration
    total = sum(_frames(c.source_range.duration, fps) for c in clips) / fps
    assert abs(total - length) <= 1 / fps + 1e-6
    # Clips follow the plan, back to back, each as long as its shot.
    for clip, result in zip(clips, manifest.shots, strict=True):
        assert clip.metadata["dramaforge"]["shot"] == result.shot_id
        assert _frames(clip.source_range.duration, fps) == round(result.duration * fps)
    # Every audio layer on its own track, dialogue clip for clip with the shots.
    audio = {n: t for n, t in tracks.items() if t.kind == otio.schema.TrackKind.Audio}
    assert {"Dialogue", "Music", "Ambience", "Effects"} <= set(audio)
    assert len(list(audio["Dialogue"].find_clips())) == len(manifest.shots)
    for name, track in audio.items():
        assert _frames(track.duration(), fps) <= round(length * fps) + 1, name
    music = next(i for i in manifest.edit if i.kind == "music")
    (music_clip,) = audio["Music"].find_clips()
    start = _frames(audio["Music"].range_of_child(music_clip).start_time, fps)
    assert start == round(music.start * fps)
    (sfx_clip,) = audio["Effects"].find_clips()
    sfx = next(i for i in manifest.edit if i.kind == "sfx")
    assert _frames(audio["Effects"].range_of_child(sfx_clip).start_time, fps) == round(
        sfx.start * fps
    )
    sounds = {i.path for i in manifest.edit if i.kind in ("music", "ambience", "sfx")}
    assert sounds == {f"audio/{p.name}" for p in (episode_dir / "audio").iterdir()}
    assert len(sounds) == len(manifest.score) == 4
    # Every media reference (chosen and alternate takes) is a relative path that exists.
    for clip in timeline.find_clips():
        for ref in clip.media_references().values():
            assert not Path(ref.target_url).is_absolute()
            assert (episode_dir / ref.target_url).is_file(), ref.target_url


def test_otio_keeps_every_take(episode: tuple[Manifest, Path]) -> None:
    manifest, episode_dir = episode
    redone = next(r for r in manifest.shots if r.shot_id == REDONE)
    assert len(redone.takes) == 2 and redone.take.number == 2
    timeline = otio.adapters.read_from_file(str(episode_dir / "episode.otio"))
    cut = next(t for t in timeline.tracks if t.name == "Video")
    clip = next(c for c in cut.find_clips() if c.name.startswith(REDONE))
    refs = clip.media_references()
    assert clip.active_media_reference_key == "DEFAULT_MEDIA"
    assert refs["DEFAULT_MEDIA"].target_url.endswith("take2_clip.mp4")
    assert refs["take1"].target_url.endswith("take1_clip.mp4")
    assert [t["take"] for t in clip.metadata["dramaforge"]["takes"]] == [1, 2]
    (alternates,) = [t for t in timeline.tracks if t.name.startswith("Alternate takes")]
    assert not alternates.enabled
    (other,) = alternates.find_clips()
    assert other.media_reference.target_url == f"shots/{REDONE}/take1_clip.mp4"
    assert alternates.range_of_child(other) == cut.range_of_child(clip)


def test_otio_tools_and_fcp_xml_read_it(episode: tuple[Manifest, Path]) -> None:
    manifest, episode_dir = episode
    otiocat = Path(sys.executable).with_name("otiocat")
    shown = subprocess.run(
        [str(otiocat), str(episode_dir / "episode.otio")], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["OTIO_SCHEMA"].startswith("Timeline")
    xml = otio.adapters.read_from_file(str(episode_dir / "episode.fcp.xml"), "fcp_xml")
    (video,) = xml.video_tracks()  # the cut; alternates live in the .otio only
    assert len(list(video.find_clips())) == len(manifest.shots)
    timeline = otio.adapters.read_from_file(str(episode_dir / "episode.otio"))
    counts = [len(list(t.find_clips())) for t in timeline.audio_tracks()]
    assert [len(list(t.find_clips())) for t in xml.audio_tracks()] == counts == [5, 1, 2, 1]
    for clip in xml.find_clips():
        assert _resolve(episode_dir, clip.media_reference.target_url).is_file()


def test_jianying_draft_reads_back(episode: tuple[Manifest, Path]) -> None:
    manifest, episode_dir = episode
    folder = episode_dir / "jianying" / episode_dir.name
    draft = json.loads((folder / "draft_content.json").read_text(encoding="utf-8"))
    meta = json.loads((folder / "draft_meta_info.json").read_text(encoding="utf-8"))
    assert meta["draft_name"] == episode_dir.name
    assert (draft["canvas_config"]["width"], draft["canvas_config"]["height"]) == (360, 640)
    tracks = {t["name"]: t for t in draft["tracks"]}
    assert {t["type"] for t in draft["tracks"]} == {"video", "audio", "text"}
    video = tracks["视频"]["segments"]
    assert len(video) == len(manifest.shots)
    at = 0
    for seg in video:  # butted, in microseconds
        assert seg["target_timerange"]["start"] == at
        at += seg["target_timerange"]["duration"]
    length_us = probe(episode_dir / "episode.mp4").duration * 1e6
    assert abs(at - length_us) <= 1e6 / 25 + 1
    assert draft["duration"] == at == meta["tm_duration"]
    assert len(tracks["对白"]["segments"]) == len(manifest.shots)
    assert {"音乐", "环境声", "音效"} <= set(tracks)
    assert len(tracks["环境声"]["segments"]) == 2
    music = tracks["音乐"]["segments"][0]
    assert music["volume"] == pytest.approx(10 ** (-16 / 20), abs=1e-3)  # -10 dB under a -6 dB bed
    assert len(tracks["字幕"]["segments"]) == len(read_srt(episode_dir / "episode.srt"))
    materials = draft["materials"]
    paths = [m["path"] for kind in ("videos", "audios") for m in materials[kind]]
    assert len(paths) >= 2 * len(manifest.shots)
    for path in paths:
        assert Path(path).is_file(), path
    by_id = {m["id"]: m for kind in ("videos", "audios") for m in materials[kind]}
    chosen = {r.shot_id: r.take.number for r in manifest.shots}
    for seg, result in zip(video, manifest.shots, strict=True):
        assert by_id[seg["material_id"]]["path"].endswith(
            f"{result.shot_id}/take{chosen[result.shot_id]}_clip.mp4"
        )


ASS_EVENT = re.compile(r"^Dialogue: \d+,(\d+):(\d\d):(\d\d)\.(\d\d),(\d+):(\d\d):(\d\d)\.(\d\d),")


def _ass_seconds(h: str, m: str, s: str, cs: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(cs) / 100


def test_ass_matches_the_srt(episode: tuple[Manifest, Path]) -> None:
    _, episode_dir = episode
    text = (episode_dir / "episode.ass").read_text(encoding="utf-8-sig")
    assert "PlayResX: 360" in text and "PlayResY: 640" in text
    assert "Style: Default,Noto Sans CJK SC," in text
    events = [ln for ln in text.splitlines() if ln.startswith("Dialogue:")]
    srt = read_srt(episode_dir / "episode.srt")
    assert len(events) == len(srt) == 5
    for line, cue in zip(events, srt, strict=True):
        found = ASS_EVENT.match(line)
        assert found, line
        g = found.groups()
        assert abs(_ass_seconds(*g[:4]) - cue.start) <= 0.005 + 1e-9
        assert abs(_ass_seconds(*g[4:]) - cue.end) <= 0.005 + 1e-9
        assert line.split(",", 9)[9].replace("\\N", "\n") == cue.text
    assert ",阿明," in events[0]  # the speaker rides along in the Name field


def _ink(frame: Path, plain: Path) -> tuple[int, int, int, int]:
    """Bounding box (top, bottom, left, right) of what subtitles drew over ``plain``."""
    a = np.asarray(Image.open(frame).convert("L"), dtype=int)
    b = np.asarray(Image.open(plain).convert("L"), dtype=int)
    ys, xs = np.nonzero(np.abs(a - b) > 60)
    assert len(ys), f"nothing drawn on {frame.name}"
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


def test_ass_draws_where_the_burned_subtitles_are(
    episode: tuple[Manifest, Path], tmp_path: Path
) -> None:
    """libass draws episode.ass on the raw shot where the episode has its burned subtitle."""
    manifest, episode_dir = episode
    cue = read_srt(episode_dir / "episode.srt")[0]
    t = round((cue.start + cue.end) / 2, 2)
    shot = next(
        i for i in manifest.edit if i.kind == "video" and i.start <= t < i.start + i.duration
    )
    clip = episode_dir / shot.path
    burned, plain, styled = (tmp_path / f"{n}.png" for n in ("burned", "plain", "styled"))
    run_ffmpeg(
        ["-ss", f"{t}", "-i", episode_dir / "episode.mp4", "-frames:v", "1", burned], what="burned"
    )
    run_ffmpeg(["-ss", f"{t - shot.start:.3f}", "-i", clip, "-frames:v", "1", plain], what="plain")
    ass = filter_escape(str(episode_dir / "episode.ass"))
    vf = (
        f"setpts=PTS+{shot.start}/TB,ass=filename={ass}:fontsdir={filter_escape(str(font_dir()))},"
        f"select=gte(t\\,{t})"
    )
    run_ffmpeg(["-i", clip, "-vf", vf, "-frames:v", "1", styled], what="drawing episode.ass")
    want, got = _ink(burned, plain), _ink(styled, plain)
    assert all(abs(w - g) <= 3 for w, g in zip(want, got, strict=True)), (want, got)


def test_cli_exports_a_rendered_episode(episode: tuple[Manifest, Path], tmp_path: Path) -> None:
    _, source = episode
    episode_dir = tmp_path / source.name
    shutil.copytree(source, episode_dir)
    for name in ("episode.otio", "episode.ass", "episode.fcp.xml"):
        (episode_dir / name).unlink()
    shutil.rmtree(episode_dir / "jianying")
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(episode_dir), "--format", "otio", "-f", "ass"])
    assert result.exit_code == 0, result.output
    assert (episode_dir / "episode.otio").is_file() and (episode_dir / "episode.ass").is_file()
    timeline = otio.adapters.read_from_file(str(episode_dir / "episode.otio"))
    for clip in timeline.find_clips():
        assert (episode_dir / clip.media_reference.target_url).is_file()
    result = runner.invoke(
        app, ["export", str(episode_dir), "--format", "jianying", "--media-root", "D:/剪映/ep"]
    )
    assert result.exit_code == 0, result.output
    draft = json.loads(
        (episode_dir / "jianying" / source.name / "draft_content.json").read_text("utf-8")
    )
    paths = [m["path"] for m in draft["materials"]["videos"] + draft["materials"]["audios"]]
    assert paths and all(p.startswith("D:/剪映/ep/") for p in paths)
    assert (episode_dir / paths[0].removeprefix("D:/剪映/ep/")).is_file()
    result = runner.invoke(app, ["export", str(episode_dir), "--format", "srt", "--json"])
    assert result.exit_code == 0, result.output
    assert read_srt(episode_dir / "episode.srt") == read_srt(source / "episode.srt")
    result = runner.invoke(app, ["export", str(episode_dir), "--format", "edl"])
    assert result.exit_code == 1
    assert "unknown export format 'edl'" in " ".join(result.output.split())
    result = runner.invoke(app, ["export", str(tmp_path / "nothing"), "-f", "otio"])
    assert result.exit_code == 1 and "no manifest.json" in " ".join(result.output.split())


def test_an_episode_rendered_before_exports_still_exports(
    episode: tuple[Manifest, Path], tmp_path: Path
) -> None:
    """A manifest without the placed cut or frame rate: clips and voices, rate probed."""
    _, source = episode
    episode_dir = tmp_path / source.name
    shutil.copytree(source, episode_dir)
    path = episode_dir / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["edit"], data["episode"]["fps"]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["export", str(episode_dir), "-f", "otio"])
    assert result.exit_code == 0, result.output
    timeline = otio.adapters.read_from_file(str(episode_dir / "episode.otio"))
    assert [t.name for t in timeline.tracks] == ["Alternate takes 1", "Video", "Dialogue"]
    cut = timeline.tracks[1]
    assert cut.duration().rate == 25
    length = probe(episode_dir / "episode.mp4").duration
    assert abs(cut.duration().to_seconds() - length) <= 1 / 25 + 1e-6


# ---- what editors (MLT under Kdenlive and Shotcut, Premiere, Resolve) misread ---------------


def test_alternates_sit_under_the_cut_and_every_clip_has_its_own_name(
    episode: tuple[Manifest, Path],
) -> None:
    _, episode_dir = episode
    timeline = otio.adapters.read_from_file(str(episode_dir / "episode.otio"))
    video = [t.name for t in timeline.video_tracks()]
    assert video == ["Alternate takes 1", "Video"]  # a stack lists bottom first: the cut on top
    names = [c.name for c in timeline.find_clips()]
    assert len(names) == len(set(names)), sorted(names)
    tracks = {t.name: t for t in timeline.tracks}
    picture = next(c for c in tracks["Video"].find_clips())
    dialogue = next(c for c in tracks["Dialogue"].find_clips())
    assert picture.name != dialogue.name and picture.name.startswith("s01-01 take 1")
    levels = [e for c in timeline.audio_tracks()[0].find_clips() for e in c.effects]
    assert levels and all(e.effect_name == "AudioLevels" for e in levels)


def test_fcp_xml_says_its_format_and_levels(episode: tuple[Manifest, Path]) -> None:
    import xml.etree.ElementTree as ET

    manifest, episode_dir = episode
    tree = ET.parse(episode_dir / "episode.fcp.xml")
    sample = tree.find(".//sequence/media/video/format/samplecharacteristics")
    assert sample is not None
    assert (sample.findtext("width"), sample.findtext("height")) == ("360", "640")
    assert sample.findtext("rate/timebase") == "25"
    gains = {
        i.path.rsplit("/", 1)[-1]: 10 ** (i.gain_db / 20)
        for i in manifest.edit
        if i.kind != "video"
    }
    checked = 0
    for item in tree.iter("clipitem"):
        level = item.find("filter/effect/parameter[parameterid='level']/value")
        url = item.findtext("file/pathurl") or ""
        name = url.rsplit("/", 1)[-1]
        if name in gains and level is not None:
            assert abs(float(level.text or "nan") - gains[name]) < 1e-4, name
            checked += 1
    assert checked >= 5  # every dialogue clip at least; music, ambience and effects too


def _tags(path: Path) -> tuple[int, int, int, int]:
    import av

    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range)


def test_every_picture_written_says_its_colour(episode: tuple[Manifest, Path]) -> None:
    _, episode_dir = episode
    bt601_tv = (1, 1, 6, 1)  # BT.709 primaries and transfer (sRGB), BT.601 matrix, TV range
    files = [episode_dir / "episode.mp4", *sorted((episode_dir / "shots").glob("*/*_clip.mp4"))]
    assert len(files) == 7
    for path in files:
        assert _tags(path) == bt601_tv, path
    assert probe(episode_dir / "episode.mp4").colour is not None


def test_a_new_prompt_is_a_visibly_new_offline_take(episode: tuple[Manifest, Path]) -> None:
    _, episode_dir = episode
    first = np.asarray(Image.open(episode_dir / "shots" / REDONE / "take1_keyframe.png"), float)
    second = np.asarray(Image.open(episode_dir / "shots" / REDONE / "take2_keyframe.png"), float)
    assert first.shape == second.shape
    assert np.abs(first - second).mean() > 2.0  # another view and light, not the same pixels
