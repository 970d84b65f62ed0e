"""Every speed benchmark of the project in one command; writes bench/results.json.

    python bench/run.py [--quick] [--only assembly,incremental,...] [--repeat N]

Each figure is a ratio against a baseline measured in the same run on the same machine
(``machine`` in each entry says which), plus the raw seconds:

- ``assembly``: re-assembling the bundled example (--force) against one bare transcode of
  the finished episode at the same x264/AAC settings, paired runs, median; and CLI start-up.
- ``incremental``: a 20-shot episode: an unchanged re-render, and a one-line edit, against
  the cold render.
- ``orchestration``: a 40-shot episode against the fake DashScope with task latency L and
  C slots per model (``bench/orchestration.py``).
- ``animatic``: a 60 s 1080p episode rendered offline from cold, against one bare encode of
  60 s at those settings.
- ``rss``: peak resident memory of a 10-episode batch, and of a batch of one long episode.
- ``moviepy``: the example's clips assembled with moviepy (the peers' way) against ours, for
  the full cut and after a one-line edit (moviepy composes it all again; we encode one segment).

``--quick`` shrinks the animatic (720p, ~30 s), the batches and the orchestration episode so
the whole run fits in a few minutes on a laptop; results.json says which was run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import (  # noqa: E402
    bare_encode,
    bare_transcode,
    cpu_now,
    dialogue_script,
    ffmpeg_version,
    machine,
    timed_cpu,
)
from dramaforge.config import Settings, frame_size  # noqa: E402
from dramaforge.graph.verbs import render_episode  # noqa: E402
from dramaforge.schema import Manifest  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
EXAMPLE = ROOT / "examples" / "campus_ep01.zh.txt"


def settings_at(resolution: str, aspect: str = "9:16") -> Settings:
    base = Settings()
    return base.model_copy(
        update={
            "render": base.render.model_copy(update={"resolution": resolution, "aspect": aspect})
        }
    )


Stamp = tuple[float, float]  # wall seconds since the render started, CPU seconds used


def render_timed(
    script: Path, out: Path, settings: Settings, **kw: Any
) -> tuple[Manifest, Stamp, dict[tuple[str, str], Stamp]]:
    """Render; return the manifest, (wall, CPU) seconds, and (wall, CPU) at each episode-level
    progress event (``("assemble", "start")`` ...)."""
    at: dict[tuple[str, str], Stamp] = {}
    t0, c0 = time.perf_counter(), cpu_now()

    def note(e: dict[str, Any]) -> None:
        if "shot" not in e:
            at[(e["stage"], e["status"])] = (time.perf_counter() - t0, cpu_now() - c0)

    manifest = render_episode(script, out, settings, on_event=note, **kw)
    return manifest, (time.perf_counter() - t0, cpu_now() - c0), at


def between(at: dict[tuple[str, str], Stamp], a: tuple[str, str], b: tuple[str, str]) -> Stamp:
    return at[b][0] - at[a][0], at[b][1] - at[a][1]


def bench_assembly(tmp: Path, repeat: int) -> tuple[dict[str, Any], Manifest, Stamp]:
    script = tmp / EXAMPLE.name
    shutil.copy(EXAMPLE, script)
    settings = settings_at("720p")
    manifest, cold, _ = render_timed(script, tmp / "assembly", settings)
    episode = Path(manifest.episode.path)
    rows = []
    for _ in range(repeat):
        manifest, _, at = render_timed(script, tmp / "assembly", settings, force=True)
        assemble = between(at, ("assemble", "start"), ("assemble", "done"))
        review = between(at, ("assemble", "done"), ("review", "done"))
        bare = bare_transcode(episode, tmp / "bare.mp4")
        rows.append((*assemble, *review, *bare))
    med = [statistics.median(r[i] for r in rows) for i in range(6)]
    starts = [
        timed_cpu(
            lambda: subprocess.run(
                [sys.executable, "-m", "dramaforge", "--help"], capture_output=True, check=True
            )
        )
        for _ in range(3)
    ]
    start = (statistics.median(s[0] for s in starts), statistics.median(s[1] for s in starts))
    return (
        {
            "ratio": round(statistics.median(r[1] / r[5] for r in rows), 3),
            "wall_ratio": round(statistics.median(r[0] / r[4] for r in rows), 3),
            "seconds": {
                "assemble": round(med[0], 2),
                "assemble_cpu": round(med[1], 2),
                "review": round(med[2], 2),
                "review_cpu": round(med[3], 2),
                "bare_transcode": round(med[4], 2),
                "bare_transcode_cpu": round(med[5], 2),
                "cold_render": round(cold[0], 2),
                "cli_start": round(start[0], 2),
                "cli_start_cpu": round(start[1], 2),
            },
            "episode": f"{EXAMPLE.name}, {manifest.episode.width}x{manifest.episode.height}, "
            f"{manifest.episode.duration:.1f}s, {len(manifest.shots)} shots",
            "pairs": len(rows),
            "ratio_is": "CPU seconds of the assemble stage / of one bare transcode (median)",
            "target": "ratio <= 1.3; CLI start-up < 1.5 s",
        },
        manifest,
        (med[0], med[1]),
    )


def bench_incremental(tmp: Path, quick: bool) -> dict[str, Any]:
    script = dialogue_script(19, "增量", tmp / "incremental.zh.txt", scenes=2)
    settings = settings_at("360p" if quick else "720p")
    out = tmp / "incremental"
    manifest, cold, _ = render_timed(script, out, settings)
    _, noop, _ = render_timed(script, out, settings)
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace("小气鬼，11号", "你真是个小气鬼，11号"), encoding="utf-8")
    _, edit, _ = render_timed(script, out, settings)
    return {
        "ratio": round(edit[1] / cold[1], 3),
        "noop_ratio": round(noop[1] / cold[1], 3),
        "wall_ratio": round(edit[0] / cold[0], 3),
        "noop_wall_ratio": round(noop[0] / cold[0], 3),
        "seconds": {
            "cold": round(cold[0], 2),
            "cold_cpu": round(cold[1], 2),
            "noop": round(noop[0], 2),
            "noop_cpu": round(noop[1], 2),
            "one_line_edit": round(edit[0], 2),
            "one_line_edit_cpu": round(edit[1], 2),
        },
        "episode": f"{len(manifest.shots)} shots, {manifest.episode.duration:.1f}s, "
        f"{settings.render.resolution}",
        "ratio_is": "CPU seconds of the edit (and of the unchanged re-render) / of the cold render",
        "target": "one-shot edit <= 0.15 of cold; unchanged re-render <= 0.10 of cold",
    }


def bench_animatic(tmp: Path, quick: bool) -> dict[str, Any]:
    resolution, lines = ("720p", 8) if quick else ("1080p", 16)
    script = dialogue_script(lines, "动画", tmp / "animatic.zh.txt", scenes=3)
    settings = settings_at(resolution)
    manifest, render, _ = render_timed(script, tmp / "animatic", settings)
    width, height = frame_size("9:16", resolution)  # type: ignore[arg-type]
    seconds = manifest.episode.duration
    bare = bare_encode(width, height, seconds, settings.render.fps, tmp / "bare_animatic.mp4")
    return {
        "ratio": round(render[1] / bare[1], 3),
        "wall_ratio": round(render[0] / bare[0], 3),
        "seconds": {
            "render": round(render[0], 2),
            "render_cpu": round(render[1], 2),
            "bare_encode": round(bare[0], 2),
            "bare_encode_cpu": round(bare[1], 2),
        },
        "episode": f"{width}x{height}, {seconds:.1f}s, {len(manifest.shots)} shots, cold",
        "ratio_is": "CPU seconds of the cold offline render / of one bare encode",
        "target": "ratio <= 2",
    }


PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _batch_peak_mb(folder: Path, out: Path) -> float:
    """Peak RSS (MB) of the largest process of one ``dramaforge batch`` (itself or ffmpeg)."""
    cmd = [sys.executable, "-m", "dramaforge", "batch", str(folder), "--out", str(out),
           "--resolution", "360p"]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def bench_rss(tmp: Path, quick: bool) -> dict[str, Any]:
    many, long_ = tmp / "batch", tmp / "long"
    many.mkdir()
    long_.mkdir()
    for n in range(10):
        dialogue_script(3 if quick else 5, f"第{n + 1}集", many / f"ep{n + 1:02d}.zh.txt")
    dialogue_script(12 if quick else 40, "长集", long_ / "long.zh.txt", scenes=4)
    t = time.perf_counter()
    peak = _batch_peak_mb(many, tmp / "batch_out")
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    peak_long = _batch_peak_mb(long_, tmp / "long_out")
    return {
        "ratio": round(peak / 600, 3),
        "seconds": {"batch": round(seconds, 2), "long_episode": round(time.perf_counter() - t, 2)},
        "peak_mb": round(peak, 1),
        "long_episode_peak_mb": round(peak_long, 1),
        "episodes": f"10 x {3 if quick else 5} lines, and 1 x {12 if quick else 40} lines, 360p",
        "target": "peak < 600 MB (ratio < 1), flat in episode length",
    }


EDIT = ("我叫林小雨，你坐吧。", "我叫林小雨，你快坐吧。")  # one line of the example, a word longer


def bench_moviepy(tmp: Path, manifest: Manifest, ours: tuple[float, float]) -> dict[str, Any]:
    """moviepy composing the example against our assembly: the full cut (ours ``--force``,
    every segment encoded), and the same one-line edit done the peers' way (moviepy composes
    the whole episode again) and ours (the changed shot's segment encoded, the rest copied)."""
    from bench.peers import assemble_with_moviepy

    theirs = timed_cpu(lambda: assemble_with_moviepy(manifest, tmp / "moviepy.mp4"))
    script = tmp / EXAMPLE.name
    text = script.read_text(encoding="utf-8")
    if EDIT[0] not in text:
        raise RuntimeError(f"the example no longer has the line {EDIT[0]!r} this bench edits")
    script.write_text(text.replace(*EDIT), encoding="utf-8")
    edited, render, at = render_timed(script, tmp / "assembly", settings_at("720p"))
    edit = between(at, ("assemble", "start"), ("assemble", "done"))
    theirs_edit = timed_cpu(lambda: assemble_with_moviepy(edited, tmp / "moviepy_edit.mp4"))
    return {
        "ratio": round(theirs[1] / ours[1], 2),
        "wall_ratio": round(theirs[0] / ours[0], 2),
        "edit_ratio": round(theirs_edit[1] / edit[1], 2),
        "edit_wall_ratio": round(theirs_edit[0] / edit[0], 2),
        "edit_render_ratio": round(theirs_edit[1] / render[1], 2),
        "seconds": {
            "moviepy": round(theirs[0], 2),
            "moviepy_cpu": round(theirs[1], 2),
            "dramaforge_assemble": round(ours[0], 2),
            "dramaforge_assemble_cpu": round(ours[1], 2),
            "moviepy_after_edit": round(theirs_edit[0], 2),
            "moviepy_after_edit_cpu": round(theirs_edit[1], 2),
            "dramaforge_assemble_after_edit": round(edit[0], 2),
            "dramaforge_assemble_after_edit_cpu": round(edit[1], 2),
            "dramaforge_render_after_edit": round(render[0], 2),
            "dramaforge_render_after_edit_cpu": round(render[1], 2),
        },
        "edit": f"{EDIT[0]} -> {EDIT[1]} (one line of {EXAMPLE.name})",
        "ratio_is": {
            "ratio": "CPU seconds of moviepy composing the whole episode / of our assemble stage "
            "under render --force (every segment encoded); same clips, same x264/AAC settings",
            "edit_ratio": "after the one-line edit: CPU seconds of moviepy composing the whole "
            "edited episode / of our assemble stage (the changed shot's segment encoded, the "
            "others taken from the segment cache)",
            "edit_render_ratio": "the same moviepy figure / CPU seconds of our whole re-render "
            "after the edit (the shot's voice and clip made again, assembly, review); moviepy's "
            "side counts its composition only, not making the shot",
        },
        "target": "ratio >= 15 (dramaforge at least 15x faster)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="assembly,incremental,orchestration,animatic,rss,moviepy")
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    where = machine() | {"ffmpeg": ffmpeg_version(), "quick": args.quick}

    def save(name: str, figure: dict[str, Any]) -> None:
        results[name] = figure | {"machine": where}
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        print(f"{name}: ratio {figure['ratio']}  {figure['seconds']}", flush=True)

    with tempfile.TemporaryDirectory(prefix="dramaforge-bench-") as tmp_name:
        tmp = Path(tmp_name)
        manifest, ours = None, (0.0, 0.0)
        if wanted & {"assembly", "moviepy"}:
            figure, manifest, ours = bench_assembly(tmp, args.repeat)
            save("assembly", figure)
        if "incremental" in wanted:
            save("incremental", bench_incremental(tmp, args.quick))
        if "orchestration" in wanted:
            from bench.orchestration import run as orchestration

            shots = 20 if args.quick else 40
            save("orchestration", orchestration(tmp, shots, args.latency, args.slots))
        if "animatic" in wanted:
            save("animatic", bench_animatic(tmp, args.quick))
        if "rss" in wanted:
            save("rss", bench_rss(tmp, args.quick))
        if "moviepy" in wanted and manifest is not None:
            save("moviepy", bench_moviepy(tmp, manifest, ours))


if __name__ == "__main__":
    main()
