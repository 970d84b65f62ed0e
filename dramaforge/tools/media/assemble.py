"""The final cut: join conforming clips, normalise the mix, burn subtitles, one encode."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.tools.media.audio import Loudness, loudnorm, measure_loudness
from dramaforge.tools.media.ffmpeg import run_ffmpeg
from dramaforge.tools.media.probe import probe
from dramaforge.tools.media.subtitles import subtitle_filter
from dramaforge.tools.media.video import concat_list

FALLBACK = re.compile(r"Glyph 0x[0-9A-Fa-f]+ not found|fontselect: failed|No usable fontconfig")


class RenderReport(BaseModel):
    path: str
    duration: float
    loudness: Loudness


def render_episode(
    *,
    clips: list[Path],
    audio: Path,
    srt: Path | None,
    width: int,
    height: int,
    fps: int,
    dest: Path,
    target_lufs: float = -14.0,
    true_peak: float = -1.5,
) -> RenderReport:
    """Write ``dest`` atomically: nothing half-written is ever at that path."""
    if not clips:
        raise AssemblyError("nothing to assemble: no clips")
    duration = sum(probe(c).duration for c in clips)
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=dest.parent) as tmp:
        work = Path(tmp)
        listing = concat_list(clips, work / "clips.txt")
        norm = work / "mix.wav"
        loudnorm(audio, norm, target_lufs=target_lufs, true_peak=true_peak)
        vf = [f"fps={fps}", "format=yuv420p"]
        if srt is not None:
            shutil.copyfile(srt, work / "subs.srt")
            vf.insert(0, subtitle_filter("subs.srt", width, height))
        out = work / f"episode{dest.suffix}"
        log = run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing.name, "-i", norm.name,
             "-map", "0:v:0", "-map", "1:a:0", "-vf", ",".join(vf),
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-r", str(fps),
             "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-ac", "2",
             "-t", f"{duration:.6f}", "-movflags", "+faststart", out.name],
            what=f"encoding {dest.name}", cwd=work,
        )
        if srt is not None and FALLBACK.search(log):
            raise AssemblyError(f"subtitle font fallback while burning {srt.name}: "
                                f"{FALLBACK.search(log).group(0)}")  # type: ignore[union-attr]
        os.replace(out, dest)
    return RenderReport(path=str(dest), duration=probe(dest).duration,
                        loudness=measure_loudness(dest))
