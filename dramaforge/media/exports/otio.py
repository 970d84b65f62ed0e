"""OpenTimelineIO: the cut as an editable timeline for DaVinci Resolve, Premiere and ``otio`` tools.

One video track of chosen takes (one clip per shot), the other takes of a shot both as extra
media references on its clip (OTIO's own way to carry alternates; ``otiocat`` and the JSON
adapter keep them) and on disabled "Alternate takes" tracks stacked under the cut, which any
editor keeps and shows. Each audio layer (dialogue, music, ambience, effects) has its own
track(s); a layer whose sounds overlap gets as many tracks as it needs; each sound's level
is an "Audio Levels" effect (and its metadata). Every clip has a name of its own. Media paths
are relative to the episode folder, where the ``.otio`` file sits, so the folder moves as a
whole.

The FCP 7 XML written beside it (Premiere's import format) needs absolute file URLs, so it
names the folder where it was written: export again after moving the folder. It has no
disabled tracks, so it carries the cut without the alternate takes; its sequence format says
the frame size and rate, and each sound's level is an Audio Levels filter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import opentimelineio as otio

from dramaforge.errors import ExportError
from dramaforge.media.exports.timeline import Span, edit_of, lanes, spans, take_file
from dramaforge.media.probe import probe
from dramaforge.schema import LayerKind, Manifest, ShotResult

TRACK_NAMES: dict[LayerKind, str] = {
    "video": "Video",
    "dialogue": "Dialogue",
    "music": "Music",
    "ambience": "Ambience",
    "sfx": "Effects",
}
AUDIO_KINDS: list[LayerKind] = ["dialogue", "music", "ambience", "sfx"]
CHOSEN = otio.schema.Clip.DEFAULT_MEDIA_KEY


def _rt(frames: int | float, fps: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, fps)


def _range(start: int | float, frames: int | float, fps: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, fps), _rt(frames, fps))


def _reference(episode_dir: Path, rel: str, fps: int) -> otio.schema.ExternalReference:
    """A relative reference with the file's own length, so editors know where media ends."""
    length = probe(episode_dir / rel).duration
    return otio.schema.ExternalReference(
        target_url=rel, available_range=_range(0, round(length * fps), fps)
    )


def _take_meta(result: ShotResult) -> list[dict[str, Any]]:
    return [
        {
            "take": t.number,
            "chosen": i == result.chosen,
            "score": t.critique.score,
            "passed": t.critique.passed,
            "issues": t.critique.issues,
            "keyframe": take_file(result.shot_id, t.number, "keyframe", t.keyframe.path),
            "clip": take_file(result.shot_id, t.number, "clip", t.motion.path),
            "voice": take_file(result.shot_id, t.number, "voice", t.voice.path),
            "prompt": t.motion.prompt or t.keyframe.prompt,
        }
        for i, t in enumerate(result.takes)
    ]


def _fill(
    track: otio.schema.Track, lane: list[Span], fps: int, make: Callable[[Span], Any]
) -> None:
    """Append ``make(span)`` for each span, with gaps where nothing plays."""
    cursor = 0
    for span in lane:
        if span.start > cursor:
            track.append(otio.schema.Gap(source_range=_range(0, span.start - cursor, fps)))
        track.append(make(span))
        cursor = span.end


def build_timeline(manifest: Manifest, episode_dir: Path, fps: int) -> otio.schema.Timeline:
    """The episode's cut as an OTIO timeline, media referenced relative to ``episode_dir``."""
    results = {r.shot_id: r for r in manifest.shots}
    shots = {s.id: s for s in manifest.plan.shots}
    placed = spans(edit_of(manifest), fps)
    timeline = otio.schema.Timeline(name=manifest.title, global_start_time=_rt(0, fps))
    timeline.metadata["dramaforge"] = {
        "width": manifest.episode.width,
        "height": manifest.episode.height,
        "aspect": manifest.episode.aspect,
        "episode": Path(manifest.episode.path).name,
        "subtitles": ["episode.srt", "episode.ass"],
    }

    def shot_clip(span: Span) -> otio.schema.Clip:
        result = results[span.item.shot_id or ""]
        refs = {CHOSEN: _reference(episode_dir, span.item.path, fps)}
        for t in result.takes:
            if t.number != result.take.number:
                rel = take_file(result.shot_id, t.number, "clip", t.motion.path)
                refs[f"take{t.number}"] = _reference(episode_dir, rel, fps)
        shot = shots[result.shot_id]
        clip = otio.schema.Clip(
            name=span.item.label, source_range=_range(0, span.end - span.start, fps)
        )
        clip.set_media_references(refs, CHOSEN)
        clip.metadata["dramaforge"] = {
            "shot": result.shot_id,
            "scene": shot.scene_heading,
            "framing": shot.framing,
            "camera": shot.camera,
            "visual_prompt": shot.visual_prompt,
            "lines": [ln.text for ln in shot.lines],
            "takes": _take_meta(result),
        }
        return clip

    # Tracks stack bottom to top: the alternates go first, under the cut, so an editor or a
    # converter that ignores their disabled flag still shows the chosen take on top.
    for n, lane in enumerate(_alternates(manifest, placed), start=1):
        track = otio.schema.Track(name=f"Alternate takes {n}", kind=otio.schema.TrackKind.Video)
        track.enabled = False
        _fill(track, lane, fps, lambda s: _plain_clip(s, episode_dir, fps))
        timeline.tracks.append(track)
    video = otio.schema.Track(name=TRACK_NAMES["video"], kind=otio.schema.TrackKind.Video)
    _fill(video, [s for s in placed if s.item.kind == "video"], fps, shot_clip)
    timeline.tracks.append(video)
    for kind in AUDIO_KINDS:
        found = lanes([s for s in placed if s.item.kind == kind])
        for n, lane in enumerate(found, start=1):
            name = TRACK_NAMES[kind] + (f" {n}" if n > 1 else "")
            track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
            _fill(track, lane, fps, lambda s: _plain_clip(s, episode_dir, fps))
            timeline.tracks.append(track)
    _distinct_names(timeline)
    return timeline


def _distinct_names(timeline: otio.schema.Timeline) -> None:
    """Every clip a name of its own: a shot's picture and its dialogue were both
    "s01-01 take 1", and a converter that keys clips by name dropped the dialogue."""
    seen: dict[str, int] = {}
    for track in timeline.tracks:
        what = "picture" if track.kind == otio.schema.TrackKind.Video else track.name.lower()
        for clip in track.find_clips(shallow_search=True):
            name = f"{clip.name} ({what})"
            seen[name] = seen.get(name, 0) + 1
            clip.name = name if seen[name] == 1 else f"{name} #{seen[name]}"


def _plain_clip(span: Span, episode_dir: Path, fps: int) -> otio.schema.Clip:
    clip = otio.schema.Clip(
        name=span.item.label or Path(span.item.path).stem,
        media_reference=_reference(episode_dir, span.item.path, fps),
        source_range=_range(0, span.end - span.start, fps),
    )
    clip.metadata["dramaforge"] = {"kind": span.item.kind, "gain_db": span.item.gain_db}
    if span.item.kind != "video":  # OTIO has no volume of its own: an effect names the level
        clip.effects.append(
            otio.schema.Effect(
                name="Audio Levels",
                effect_name="AudioLevels",
                metadata={"gain_db": span.item.gain_db, "gain": _gain(span.item.gain_db)},
            )
        )
    return clip


def _gain(db: float) -> float:
    """A level in dB as the linear factor editors store (FCP 7's "level", 剪映's volume)."""
    return round(10 ** (db / 20), 5)


def _fcp_levels(clip: otio.schema.Clip) -> None:
    """The clip's level as FCP 7 XML's Audio Levels filter, which Premiere and Resolve read."""
    gain = clip.metadata.get("dramaforge", {}).get("gain_db")
    if gain is None:
        return
    clip.metadata["fcp_xml"] = {
        "filter": {
            "effect": {
                "name": "Audio Levels",
                "effectid": "audiolevels",
                "effectcategory": "audiolevels",
                "effecttype": "audiolevels",
                "mediatype": "audio",
                "parameter": {
                    "parameterid": "level",
                    "name": "Level",
                    "valuemin": "0",
                    "valuemax": "3.98109",
                    "value": f"{_gain(float(gain)):.5f}",
                },
            }
        }
    }
    clip.effects[:] = []  # the filter above is the level; the adapter does not write effects


def _fcp_format(timeline: otio.schema.Timeline, width: int, height: int, fps: int) -> None:
    """The sequence's frame size and rate (the adapter leaves ``<format/>`` empty)."""
    timeline.metadata["fcp_xml"] = {
        "media": {
            "video": {
                "format": {
                    "samplecharacteristics": {
                        "rate": {"timebase": str(fps), "ntsc": "FALSE"},
                        "width": str(width),
                        "height": str(height),
                        "anamorphic": "FALSE",
                        "pixelaspectratio": "square",
                        "fielddominance": "none",
                    }
                }
            }
        }
    }


def _alternates(manifest: Manifest, placed: list[Span]) -> list[list[Span]]:
    """Every take not chosen, aligned with its shot and trimmed to the shot's length."""
    starts = {s.item.shot_id: s for s in placed if s.item.kind == "video"}
    extra: list[Span] = []
    for result in manifest.shots:
        at = starts.get(result.shot_id)
        if at is None:
            continue
        for t in result.takes:
            if t.number == result.take.number:
                continue
            item = at.item.model_copy(
                update={
                    "path": take_file(result.shot_id, t.number, "clip", t.motion.path),
                    "label": f"{result.shot_id} take {t.number}",
                }
            )
            extra.append(Span(item, at.start, at.end))
    return lanes(extra)


def write_otio(manifest: Manifest, episode_dir: Path, fps: int) -> list[Path]:
    """Write ``episode.otio`` (relative media) and ``episode.fcp.xml`` (absolute file URLs)."""
    timeline = build_timeline(manifest, episode_dir, fps)
    dest = episode_dir / "episode.otio"
    xml = episode_dir / "episode.fcp.xml"
    try:
        _atomic(dest, lambda tmp: otio.adapters.write_to_file(timeline, str(tmp), "otio_json"))
        absolute = timeline.deepcopy()
        # FCP XML drops "disabled": alternates there would cover the cut, so they stay out.
        for track in [t for t in absolute.tracks if not t.enabled]:
            absolute.tracks.remove(track)
        for clip in absolute.find_clips():
            for ref in clip.media_references().values():
                if isinstance(ref, otio.schema.ExternalReference):
                    path = (episode_dir / ref.target_url).resolve()
                    ref.target_url = otio.url_utils.url_from_filepath(str(path))
            _fcp_levels(clip)
        ep = manifest.episode
        _fcp_format(absolute, ep.width, ep.height, fps)
        _atomic(xml, lambda tmp: otio.adapters.write_to_file(absolute, str(tmp), "fcp_xml"))
    except (otio.exceptions.OTIOError, OSError, ValueError) as err:
        raise ExportError(f"writing the OpenTimelineIO timeline for {episode_dir}: {err}") from err
    return [dest, xml]


def _atomic(dest: Path, write: Callable[[Path], object]) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    write(tmp)
    tmp.replace(dest)
