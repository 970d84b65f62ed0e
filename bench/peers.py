"""The peers' way: the same clips, voices, music and subtitles composed with moviepy.

MoneyPrinterTurbo and ViMax assemble with moviepy: every frame goes through numpy in Python
(clips concatenated, text clips composited over them, audio clips summed), then to ffmpeg.
This composes what ``dramaforge`` assembled for an episode (its chosen takes, its voices at
their times, the scene music under them, its SRT burned at the bottom) and writes it with
the same x264/AAC settings.
"""

from __future__ import annotations

from pathlib import Path

from dramaforge.media.fonts import font_path
from dramaforge.media.subtitles import Layout, read_srt
from dramaforge.schema import Manifest


def assemble_with_moviepy(manifest: Manifest, dest: Path) -> None:
    """Write ``dest`` from the episode's parts with moviepy (needs the ``bench`` extra)."""
    from moviepy import (
        AudioFileClip,
        CompositeAudioClip,
        CompositeVideoClip,
        TextClip,
        VideoFileClip,
        concatenate_videoclips,
    )

    ep = manifest.episode
    clips, voices, t = [], [], 0.0
    for result in manifest.shots:
        take = result.take
        clips.append(VideoFileClip(take.motion.path).subclipped(0, take.duration))
        voices.append(AudioFileClip(take.voice.path).with_start(t))
        t += result.duration
    video = concatenate_videoclips(clips)
    music = [a for a in manifest.score if a.stage in ("music", "ambience")]
    layers = list(voices)
    for asset in music[:2]:
        bed = AudioFileClip(asset.path)
        layers.append(bed.subclipped(0, min(bed.duration, video.duration)).with_volume_scaled(0.3))
    layout = Layout(ep.width, ep.height)
    texts = [
        TextClip(
            font=str(font_path()),
            text=cue.text,
            font_size=round(layout.em),
            color="white",
            stroke_color="black",
            stroke_width=2,
            method="caption",
            size=(round(layout.max_width), None),
            text_align="center",
        )
        .with_start(cue.start)
        .with_duration(cue.end - cue.start)
        .with_position(("center", round(layout.band()[0])))
        for cue in read_srt(Path(ep.srt))
    ]
    final = CompositeVideoClip([video, *texts], size=(ep.width, ep.height)).with_audio(
        CompositeAudioClip(layers).with_duration(video.duration)
    )
    final.write_videofile(
        str(dest),
        fps=25,
        codec="libx264",
        preset="veryfast",
        audio_codec="aac",
        audio_bitrate="160k",
        threads=2,
        ffmpeg_params=["-crf", "20", "-pix_fmt", "yuv420p", "-aac_coder", "fast"],
        logger=None,
    )
    for clip in (*clips, *voices, final):
        clip.close()
