"""Running the project's own ffmpeg (a static binary shipped by imageio-ffmpeg)."""

from __future__ import annotations

import contextlib
import os
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


BACKGROUND_NICE = 10
"""How much lower a background ffmpeg runs (work made ahead while the shots are in progress):
the threads that poll the provider and submit the next shot come first."""


def run_ffmpeg(
    args: list[str | Path], *, what: str, cwd: Path | None = None, background: bool = False
) -> str:
    """Run ffmpeg with ``args`` (no leading binary); return what it printed (stdout, stderr).

    Raises AssemblyError naming ``what`` with the tail of ffmpeg's log on failure.
    ``background`` lowers its CPU priority (where the system has priorities).
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            cwd=cwd,
        )
    except OSError as err:  # not executable, removed since it was found
        raise MachineError(f"cannot run ffmpeg at {cmd[0]}: {err.strerror}") from None
    with proc:
        if background and hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):  # already ended, or not allowed: run as it is
                os.setpriority(os.PRIO_PROCESS, proc.pid, BACKGROUND_NICE)
        try:
            out, err_text = proc.communicate()
        except BaseException:  # interrupted: the child goes too, as subprocess.run does it
            proc.kill()
            raise
    if proc.returncode != 0:
        tail = "\n".join(err_text.strip().splitlines()[-12:])
        raise AssemblyError(f"ffmpeg failed while {what}:\n{tail}")
    return out + err_text
