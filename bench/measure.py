"""What every benchmark shares: the machine, timing, a bare transcode baseline, scripts.

Ratios are always against a baseline measured in the same run on the same machine.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dramaforge.media.audio import RATE
from dramaforge.media.cut import FINAL_AAC, FINAL_X264
from dramaforge.media.ffmpeg import ffmpeg_exe, run_ffmpeg

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    """Where the figures were measured (CPU, cores, load when the benchmark started)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_1min": round(load, 2) if load is not None else None,
        "python": platform.python_version(),
        "system": platform.system(),
    }


def cpu_now() -> float:
    """CPU seconds used so far by this process (every thread) and its finished children.

    On a shared machine wall time depends on everyone else's load; CPU seconds measure the
    work itself, so each figure is given both ways.
    """
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()``."""
    t, c = time.perf_counter(), cpu_now()
    fn()
    return time.perf_counter() - t, cpu_now() - c


def median_of(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(max(1, repeat)))


def bare_transcode(src: Path, dest: Path) -> tuple[float, float]:
    """Seconds to decode ``src`` and encode it again with the episode's own settings (x264 as
    the final cut uses it, AAC 160k): the floor any assembly of that output must pay.
    Wall and CPU seconds."""
    return timed_cpu(
        lambda: run_ffmpeg(
            [
                "-i",
                src,
                "-map",
                "0:v:0",
                "-map",
                "0:a:0",
                *FINAL_X264,
                *FINAL_AAC,
                dest,
            ],
            what="bare transcode",
        )
    )


def bare_encode(
    width: int, height: int, seconds: float, fps: int, dest: Path
) -> tuple[float, float]:
    """Wall and CPU seconds to encode ``seconds`` of a synthetic picture and tone."""
    return timed_cpu(
        lambda: run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=s={width}x{height}:r={fps}:d={seconds}",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:sample_rate={RATE}:duration={seconds}",
                *FINAL_X264,
                *FINAL_AAC,
                dest,
            ],
            what="bare encode",
        )
    )


LINES_ZH = [
    ("林小雨", "你今天怎么来得这么早？"),
    ("陈默", "我想在上课前把这本书看完。"),
    ("林小雨", "又是那本小说吗？结局到底是什么？"),
    ("陈默", "不告诉你，你自己看吧。"),
    ("林小雨", "小气鬼。"),
    ("陈默", "放学以后，我再慢慢讲给你听。"),
]
SCENES = ["教室 - 白天 - 内", "走廊 - 傍晚 - 内", "操场 - 傍晚 - 外", "校门口 - 夜晚 - 外"]


def dialogue_script(lines: int, title: str, dest: Path, scenes: int = 2) -> Path:
    """A 中文标记 script of ``lines`` dialogue lines over ``scenes`` scenes (one shot a line
    with the rule director), each line a little different so nothing is shared by chance."""
    out = [f"# {title}", "人物：林小雨（女，高中生）；陈默（男，转学生）"]
    per_scene = max(1, -(-lines // scenes))
    for n in range(lines):
        if n % per_scene == 0:
            out.append(f"【场景{n // per_scene + 1}】{SCENES[(n // per_scene) % len(SCENES)]}")
        who, text = LINES_ZH[n % len(LINES_ZH)]
        out.append(f"{who}：{text[:-1]}{'，' + str(n + 1) + '号' if n >= len(LINES_ZH) else ''}"
                   f"{text[-1]}")  # fmt: skip
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return dest


def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else ""
