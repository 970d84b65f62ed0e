"""Render speed: a cold render, a warm re-render (asset cache), a one-line edit of the
script, one shot redone with a new prompt, and an earlier take restored.

Prints seconds and ratios measured in the same run, plus the real-time factor
(seconds of finished episode per second of wall time). Usage:

    python bench/bench_render.py [SCRIPT] [--resolution 720p]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from dramaforge.config import Settings
from dramaforge.graph.verbs import render_episode, rerender_shot

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("script", nargs="?", default=str(ROOT / "examples/campus_ep01.zh.txt"))
    parser.add_argument("--resolution", default="720p")
    args = parser.parse_args()
    base = Settings()
    settings = base.model_copy(
        update={"render": base.render.model_copy(update={"resolution": args.resolution})}
    )
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / Path(args.script).name
        shutil.copy(args.script, script)
        out = Path(tmp) / "out"
        timings = {}
        for label in ("cold", "warm"):
            t = time.perf_counter()
            manifest = render_episode(script, out, settings)
            timings[label] = time.perf_counter() - t
        lines = [ln.text for s in manifest.plan.shots for ln in s.lines]
        text = script.read_text(encoding="utf-8")
        script.write_text(text.replace(lines[-1], lines[-1] + lines[-1], 1), encoding="utf-8")
        t = time.perf_counter()
        edited = render_episode(script, out, settings)
        timings["edit"] = time.perf_counter() - t
        # Directing after a render: redo one shot with a new prompt, then restore its take.
        episode_dir = Path(edited.episode.path).parent
        t = time.perf_counter()
        rerender_shot(episode_dir, settings, 3, prompt="夜晚，窗外下雨 / night, rain")
        timings["redo"] = time.perf_counter() - t
        t = time.perf_counter()
        rerender_shot(episode_dir, settings, 3, take=1)
        timings["take"] = time.perf_counter() - t
    seconds = manifest.episode.duration
    print(f"episode: {seconds:.1f}s, {len(manifest.shots)} shots, {args.resolution}")
    for label, value in timings.items():
        print(f"{label:>5}: {value:6.1f}s wall, real-time factor {seconds / value:5.2f}x")
    print(f"warm/cold ratio: {timings['warm'] / timings['cold']:.2f}")
    for label in ("edit", "redo", "take"):
        print(f"{label}/cold ratio: {timings[label] / timings['cold']:.2f}")


if __name__ == "__main__":
    main()
