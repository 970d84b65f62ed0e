"""What a user sees before rendering on open models: ``plan``'s GPU time and cost,
``doctor``'s devices and needs. Table-driven; no weights, no GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.config import Settings
from dramaforge.graph.cost import estimate
from dramaforge.schema import ShotPlan
from dramaforge.tools.diffusers.estimate import card_of, clip_seconds
from dramaforge.tools.diffusers.models import MODELS, choose_offload
from tests.helpers import FIXTURES

runner = CliRunner()
WAN = MODELS["wan2.1-t2v-1.3b"]


def test_published_time_scales_to_the_card_steps_and_frames() -> None:
    settings = Settings()
    seconds, basis = clip_seconds(WAN, "NVIDIA GeForce RTX 4090", 5.0, settings) or (0, "")
    assert seconds == pytest.approx(240.0)  # the Wan README's figure, 81 frames, 50 steps
    assert "Wan2.1 README" in basis
    h100, _ = clip_seconds(WAN, "NVIDIA H100 80GB HBM3", 5.0, settings) or (0, "")
    assert h100 == pytest.approx(240.0 * 165.2 / 989.0)
    short, _ = clip_seconds(WAN, "RTX 4090", 2.0, settings) or (0, "")
    assert short == pytest.approx(240.0 * 33 / 81)
    assert clip_seconds(MODELS["qwen-image"], "RTX 4090", 0.0, settings) is None
    assert card_of("NVIDIA RTX 6000 Ada Generation") == "RTX 6000 Ada"


def test_offload_is_chosen_from_free_memory() -> None:
    assert choose_offload(WAN, 24.0) == "none"
    assert choose_offload(WAN, 10.0) == "model"
    assert choose_offload(WAN, 5.0) == "sequential"
    assert choose_offload(WAN, 1.0) == "sequential"  # then out-of-memory says so


def gpu_settings(tmp_path: Path) -> Settings:
    (tmp_path / "wan2.1-t2v-1.3b").mkdir(parents=True)
    (tmp_path / "wan2.1-t2v-1.3b" / "model_index.json").write_text("{}")
    return Settings.model_validate(
        {
            "backends": {"video": "diffusers:wan2.1-t2v-1.3b"},
            "diffusers": {"models_dir": str(tmp_path), "gpu": "RTX 4090", "devices": ["cpu"]},
            "prices": {"diffusers:gpu-hour": 2.0},
        }
    )


def test_estimate_prices_gpu_hours(tmp_path: Path) -> None:
    settings = gpu_settings(tmp_path)
    plan = ShotPlan.model_validate_json(
        runner.invoke(app, ["plan", str(FIXTURES / "short.zh.txt"), "--json"]).stdout
    )
    cost = estimate(plan, settings)
    seconds = sum(
        (clip_seconds(WAN, "RTX 4090", s.duration, settings) or (0.0, ""))[0] for s in plan.shots
    )
    one = seconds / 3600 * 2.0
    assert cost.one_take["diffusers:wan2.1-t2v-1.3b"] == pytest.approx(one, abs=1e-4)
    most = one * settings.render.max_takes  # up to max_takes clips a shot
    assert cost.lines["diffusers:wan2.1-t2v-1.3b"] == pytest.approx(most, abs=1e-4)
    assert "diffusers:wan2.1-t2v-1.3b" not in cost.unpriced


def test_plan_prints_time_per_shot_on_the_configured_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    gpu_settings(tmp_path / "models")
    monkeypatch.setenv("DRAMAFORGE_BACKENDS__VIDEO", "diffusers:wan2.1-t2v-1.3b")
    monkeypatch.setenv("DRAMAFORGE_DIFFUSERS__MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("DRAMAFORGE_DIFFUSERS__GPU", "RTX 4090")
    result = runner.invoke(app, ["plan", str(FIXTURES / "short.zh.txt")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "diffusers:wan2.1-t2v-1.3b on RTX 4090: about" in said
    assert "GPU-hours this episode" in said


def test_doctor_names_the_device_the_need_and_the_missing_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("DRAMAFORGE_BACKENDS__VIDEO", "diffusers:wan2.2-ti2v-5b")
    monkeypatch.setenv("DRAMAFORGE_DIFFUSERS__MODELS_DIR", str(tmp_path))
    result = runner.invoke(app, ["doctor", "--json"])
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert "no CUDA device" in rows["GPU"]["detail"]
    model = rows["diffusers:wan2.2-ti2v-5b"]
    assert not model["ok"]
    assert "model 24 GB" in model["detail"] and "Wan2.2 README" in model["detail"]
    assert "huggingface-cli download Wan-AI/Wan2.2-TI2V-5B-Diffusers" in model["detail"]


def test_auto_offload_keeps_an_image_and_a_video_model_loaded_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On 80 GB free, Qwen-Image (60 GB whole) and Wan 14B I2V (48 GB) do not both fit whole:
    each is loaded with model offload, so neither evicts the other; alone, each goes whole."""
    from dramaforge.config import DiffusersSettings
    from dramaforge.tools.diffusers import pipelines

    monkeypatch.setattr(pipelines, "free_gb", lambda device: 80.0)
    pair = pipelines.TorchLoader(DiffusersSettings(), ("qwen-image", "wan2.1-i2v-14b-480p"))
    assert pair.first_offload("qwen-image", "cuda:0") == "model"
    assert pair.first_offload("wan2.1-i2v-14b-480p", "cuda:0") == "model"
    alone = pipelines.TorchLoader(DiffusersSettings(), ("wan2.1-i2v-14b-480p",))
    assert alone.first_offload("wan2.1-i2v-14b-480p", "cuda:0") == "none"
    fixed = pipelines.TorchLoader(DiffusersSettings(offload="sequential"), ())
    assert fixed.first_offload("wan2.1-t2v-1.3b", "cuda:0") == "sequential"
