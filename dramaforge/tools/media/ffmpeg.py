"""Running the project's own ffmpeg (a static binary shipped by imageio-ffmpeg)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import imageio_ffmpeg

from dramaforge.errors import AssemblyError


@cache
def ffmpeg_exe() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(args: list[str | Path], *, what: str, cwd: Path | None = None) -> str:
    """Run ffmpeg with ``args`` (no leading binary); return what it printed (stdout, stderr).

    Raises AssemblyError naming ``what`` with the tail of ffmpeg's log on failure.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", cwd=cwd)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise AssemblyError(f"ffmpeg failed while {what}:\n{tail}")
    return proc.stdout + proc.stderr
