"""Running the project's own ffmpeg (a static binary shipped by imageio-ffmpeg)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import imageio_ffmpeg

from dramaforge.errors import AssemblyError, MachineError


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary imageio-ffmpeg ships (or ``IMAGEIO_FFMPEG_EXE``), checked to exist."""
    try:
        exe = Path(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as err:
        raise MachineError(
            f"ffmpeg is missing ({err}); reinstall: pip install imageio-ffmpeg"
        ) from None
    if not exe.is_file():
        raise MachineError(f"ffmpeg is missing at {exe}; reinstall: pip install imageio-ffmpeg")
    return str(exe)


def run_ffmpeg(args: list[str | Path], *, what: str, cwd: Path | None = None) -> str:
    """Run ffmpeg with ``args`` (no leading binary); return what it printed (stdout, stderr).

    Raises AssemblyError naming ``what`` with the tail of ffmpeg's log on failure.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", cwd=cwd)
    except OSError as err:  # not executable, removed since it was found
        raise MachineError(f"cannot run ffmpeg at {cmd[0]}: {err.strerror}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise AssemblyError(f"ffmpeg failed while {what}:\n{tail}")
    return proc.stdout + proc.stderr
