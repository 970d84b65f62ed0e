"""A 剪映 (JianYing Pro) draft of the cut, so Chinese editors can finish an episode by hand.

Written with pyJianYingDraft (a maintained library that tracks 剪映's draft format) rather
than hand-made JSON: ``jianying/<episode>/draft_content.json`` and ``draft_meta_info.json``.
Tracks: 视频 (one segment per shot, the chosen take, its own sound muted as in the mix),
对白, 音乐, 环境声, 音效 (one track per layer, more where sounds overlap) at the mix's levels,
and 字幕 (the episode's subtitles as editable text). Copy the draft folder into 剪映's draft
location to open it; 剪映 6 and later encrypt a draft when they save it, so a draft edited
there cannot be read back by this module (see the README for the versions that open it).

剪映 finds media by absolute path. The draft names the files where they are when it is
written, or under ``media_root`` (the folder as the editor's machine sees it, e.g.
``D:/剪映素材/ep01``) so a draft written on one machine opens on another.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import pyJianYingDraft as jy

from dramaforge.errors import ExportError
from dramaforge.media.exports.timeline import Span, edit_of, lanes, spans
from dramaforge.media.memo import remembered
from dramaforge.media.subtitles import MARGIN_LANDSCAPE, MARGIN_PORTRAIT, SAFE_WIDTH
from dramaforge.schema import LayerKind, Manifest

TRACK_NAMES: dict[LayerKind, str] = {
    "video": "视频",
    "dialogue": "对白",
    "music": "音乐",
    "ambience": "环境声",
    "sfx": "音效",
}
AUDIO_KINDS: list[LayerKind] = ["dialogue", "music", "ambience", "sfx"]
SUBTITLE_TRACK = "字幕"
M = TypeVar("M")
LINE_HEIGHT = 0.05  # subtitle line as a share of the frame height, as burned


def _us(frame: int, fps: int) -> int:
    return round(frame * 1_000_000 / fps)


def _subtitle_y(width: int, height: int) -> float:
    """Where the burned subtitles sit, in 剪映's units (-1 bottom edge, 1 top edge)."""
    bottom = MARGIN_PORTRAIT if height > width else MARGIN_LANDSCAPE
    return round(-(1 - 2 * (bottom + LINE_HEIGHT / 2)), 3)


def draft_dir(episode_dir: Path) -> Path:
    """Where the episode's draft folder is written."""
    return episode_dir / "jianying" / episode_dir.name


def write_jianying(
    manifest: Manifest, episode_dir: Path, fps: int, *, media_root: str | None = None
) -> Path:
    """Write the draft folder; returns it. ExportError if a file cannot be read or placed."""
    dest = draft_dir(episode_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    ep = manifest.episode
    try:
        script = jy.DraftFolder(str(dest.parent)).create_draft(
            dest.name, ep.width, ep.height, fps, allow_replace=True
        )
        placed = spans(edit_of(manifest), fps)
        _video(script, [s for s in placed if s.item.kind == "video"], episode_dir, fps)
        for kind in AUDIO_KINDS:
            for n, lane in enumerate(lanes([s for s in placed if s.item.kind == kind]), 1):
                name = TRACK_NAMES[kind] + (str(n) if n > 1 else "")
                _audio(script, name, lane, episode_dir, fps)
        srt = episode_dir / "episode.srt"
        if srt.is_file() and srt.stat().st_size:
            _subtitles(script, srt, ep.width, ep.height)
        script.save()
    except (OSError, ValueError, TypeError, NameError) as err:  # pyJianYingDraft raises these
        raise ExportError(f"writing the 剪映 draft for {episode_dir}: {err}") from err
    content = dest / "draft_content.json"
    if media_root is not None:
        _rebase(content, episode_dir, media_root)
    _meta(dest, script.duration)
    return dest


def _material(kind: Callable[[str], M], path: Path) -> M:
    """A 剪映 material for ``path``, with an id of its own. Reading a file's streams
    (pymediainfo) is most of the draft's cost: it is done once per unchanged file."""
    material = copy.copy(remembered(f"jianying-{kind.__name__}", path, lambda: kind(str(path))))
    material.material_id = uuid.uuid4().hex  # type: ignore[attr-defined]
    return material


def _video(script: Any, lane: list[Span], episode_dir: Path, fps: int) -> None:
    script.append_track(jy.TrackSpec(jy.TrackType.video, TRACK_NAMES["video"]))
    for span in lane:
        material = _material(jy.VideoMaterial, episode_dir / span.item.path)
        start, length = _us(span.start, fps), _us(span.end, fps) - _us(span.start, fps)
        # A clip shorter than its shot is slowed to fill it (the cut holds its last frame).
        source = jy.Timerange(0, min(length, material.duration))
        segment = jy.VideoSegment(
            material, jy.Timerange(start, length), source_timerange=source, volume=0.0
        )
        script.add_segment(segment, TRACK_NAMES["video"])


def _audio(script: Any, name: str, lane: list[Span], episode_dir: Path, fps: int) -> None:
    script.append_track(jy.TrackSpec(jy.TrackType.audio, name))
    for span in lane:
        material = _material(jy.AudioMaterial, episode_dir / span.item.path)
        start = _us(span.start, fps)
        length = min(_us(span.end, fps) - start, material.duration)
        segment = jy.AudioSegment(
            material,
            jy.Timerange(start, length),
            source_timerange=jy.Timerange(0, length),
            volume=round(10 ** (span.item.gain_db / 20), 4),
        )
        script.add_segment(segment, name)


def _subtitles(script: Any, srt: Path, width: int, height: int) -> None:
    style = jy.TextSegment(
        "",
        jy.Timerange(0, 1_000_000),
        style=jy.TextStyle(size=6.0, align=1, auto_wrapping=True, max_line_width=SAFE_WIDTH),
        border=jy.TextBorder(width=30.0),
    )
    script.import_srt(
        str(srt),
        SUBTITLE_TRACK,
        style_reference=style,
        clip_settings=jy.ClipSettings(transform_y=_subtitle_y(width, height)),
    )


def _rebase(content: Path, episode_dir: Path, media_root: str) -> None:
    """Name every media file under ``media_root`` instead of where it is now."""
    draft = json.loads(content.read_text(encoding="utf-8"))
    here = episode_dir.resolve()
    root = PurePosixPath(media_root.replace("\\", "/"))
    for kind in ("videos", "audios"):
        for material in draft["materials"].get(kind, []):
            path = Path(material["path"]).resolve()
            if path.is_relative_to(here):
                material["path"] = str(root / path.relative_to(here).as_posix())
    content.write_text(json.dumps(draft, ensure_ascii=False, indent=4), encoding="utf-8")


def _meta(dest: Path, duration_us: int) -> None:
    """Name the draft and give its length and a fresh id (the template's id is shared)."""
    path = dest / "draft_meta_info.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(
        draft_name=dest.name,
        draft_id=str(uuid.uuid4()).upper(),
        tm_duration=duration_us,
    )
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=4), encoding="utf-8")
