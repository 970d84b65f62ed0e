"""bench/gpu.py without a GPU: it refuses in one line, its full-size configs are the released
models' (parameter counts, built on the meta device: no memory), and its measuring code runs
on tiny configs (``--check``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_refuses_without_cuda_in_one_line() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = bench()
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "needs a CUDA GPU" in done.stderr


@pytest.mark.parametrize(
    ("name", "transformer", "text_encoder"),
    [
        ("wan2.1-t2v-1.3b", 1.42, 5.68),  # Wan2.1-T2V-1.3B, umt5-xxl encoder
        ("wan2.1-i2v-14b-480p", 16.39, 5.68),
        ("qwen-image", 20.43, 8.29),  # the 20B MMDiT, Qwen2.5-VL-7B
    ],
)
def test_full_size_configs_have_the_released_parameter_counts(
    name: str, transformer: float, text_encoder: float
) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    sys.path.insert(0, str(ROOT))
    from bench.gpu import BUILDERS

    with torch.device("meta"):
        pipe = BUILDERS[name]()
    billions = {
        part: sum(p.numel() for p in getattr(pipe, part).parameters()) / 1e9
        for part in ("transformer", "text_encoder")
    }
    assert billions["transformer"] == pytest.approx(transformer, rel=0.01)
    assert billions["text_encoder"] == pytest.approx(text_encoder, rel=0.01)


@pytest.mark.slow
def test_check_runs_the_measurement_on_tiny_configs(tmp_path: Path) -> None:
    pytest.importorskip("diffusers")
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"assembly": {"ratio": 1.1}}))
    done = bench(
        "--check",
        "--models",
        "wan2.1-t2v-1.3b",
        "--offload",
        "none",
        "--steps",
        "3",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["assembly"] == {"ratio": 1.1}, "other benchmarks' results are kept"
    (run,) = results["gpu"]["runs"]
    assert run["model"] == "wan2.1-t2v-1.3b" and run["offload"] == "none"
    assert run["seconds_per_step"] > 0 and run["load_s"] > 0
