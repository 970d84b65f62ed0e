"""Exports for editors: the finished cut in the forms editors open and finish by hand.

Every render writes them all into the episode folder (``export_all``, from the review node);
``dramaforge export EPISODE_DIR --format F`` writes one again for an episode already
rendered (``export``). Everything is built from the episode's ``manifest.json``.

==========  ==============================================================================
format      writes
==========  ==============================================================================
srt         ``episode.srt``: the subtitles as placed in the cut
ass         ``episode.ass``: the same cues, styled as they are burned in
otio        ``episode.otio`` (OpenTimelineIO, relative paths) and ``episode.fcp.xml``
jianying    ``jianying/<episode>/``: a 剪映 draft folder
==========  ==============================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import ValidationError

from dramaforge.errors import ExportError
from dramaforge.media.bilingual import split_translation
from dramaforge.media.exports.ass import write_ass
from dramaforge.media.exports.jianying import write_jianying
from dramaforge.media.exports.otio import write_otio
from dramaforge.media.exports.timeline import edit_of
from dramaforge.media.probe import probe
from dramaforge.media.subtitle_timing import fit_cues, place_cues
from dramaforge.media.subtitles import Layout, read_srt, write_srt
from dramaforge.schema import Cue, Manifest

ExportFormat = Literal["srt", "ass", "otio", "jianying"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)


def load_manifest(episode_dir: Path) -> Manifest:
    """The episode's manifest; ExportError naming the folder if there is none or it is bad."""
    path = episode_dir / "manifest.json"
    if not path.is_file():
        raise ExportError(f"{episode_dir}: no manifest.json here; is it a rendered episode folder?")
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as err:
        raise ExportError(
            f"{path}: not a dramaforge manifest ({err.error_count()} errors)"
        ) from err


def frame_rate(manifest: Manifest, episode_dir: Path) -> int:
    """The cut's frame rate: recorded in the manifest, or probed from an older episode."""
    if manifest.episode.fps:
        return manifest.episode.fps
    return round(probe(episode_dir / Path(manifest.episode.path).name).fps) or 25


def episode_cues(manifest: Manifest) -> list[Cue]:
    """Every chosen take's cues placed on the episode and timed for reading, exactly as the
    assembly writes them (``place_cues`` then ``fit_cues``)."""
    starts = {i.shot_id: i.start for i in edit_of(manifest) if i.kind == "video"}
    shots = [(r.take.cues, starts[r.shot_id]) for r in manifest.shots if r.shot_id in starts]
    ep = manifest.episode
    return fit_cues(place_cues(shots), Layout(ep.width, ep.height), ep.duration)


def _kept_translations(placed: list[Cue], srt: Path) -> list[Cue]:
    """``placed`` with the translations a bilingual render wrote into ``srt`` (the manifest
    holds only the spoken lines), so writing the SRT again does not drop them."""
    old = read_srt(srt) if srt.is_file() else []
    if len(old) != len(placed):
        return placed
    return [
        p.model_copy(update={"text": o.text}) if split_translation(o.text, p.text) else p
        for p, o in zip(placed, old, strict=True)
    ]


def _ass(manifest: Manifest, episode_dir: Path) -> Path:
    """ASS from the SRT as it is (times and breaks), speakers from the manifest where they match."""
    srt = episode_dir / "episode.srt"
    if not srt.is_file():
        write_srt(episode_cues(manifest), srt)
    cues = read_srt(srt)
    placed = episode_cues(manifest)
    originals = None
    if len(placed) == len(cues):
        cues = [
            c.model_copy(update={"speaker": p.speaker}) for c, p in zip(cues, placed, strict=True)
        ]
        originals = [p.text for p in placed]  # bilingual cues hold more: their translation
    ep = manifest.episode
    dest = episode_dir / "episode.ass"
    return write_ass(cues, dest, ep.width, ep.height, manifest.title, originals)


def export(
    episode_dir: Path,
    fmt: str,
    *,
    manifest: Manifest | None = None,
    media_root: str | None = None,
) -> list[Path]:
    """Write one export of a rendered episode; returns the files (or folder) written.

    ``media_root`` only matters to the 剪映 draft: the episode folder as the editing
    machine sees it, since 剪映 finds media by absolute path.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    episode_dir = Path(episode_dir)
    manifest = manifest or load_manifest(episode_dir)
    fps = frame_rate(manifest, episode_dir)
    if fmt == "srt":
        dest = episode_dir / "episode.srt"
        write_srt(_kept_translations(episode_cues(manifest), dest), dest)
        return [dest]
    if fmt == "ass":
        return [_ass(manifest, episode_dir)]
    if fmt == "otio":
        return write_otio(manifest, episode_dir, fps)
    return [write_jianying(manifest, episode_dir, fps, media_root=media_root)]


def export_all(episode_dir: Path, manifest: Manifest) -> list[Path]:
    """Every export but the SRT (the assembly wrote it): what each render leaves for editors."""
    written: list[Path] = []
    for fmt in FORMATS:
        if fmt != "srt":
            written += export(episode_dir, fmt, manifest=manifest)
    return written
