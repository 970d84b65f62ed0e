"""Open models on a real GPU: seconds per denoising step, peak VRAM and load time.

    pip install -e '.[gpu]'           # torch with CUDA, diffusers, transformers, accelerate
    python bench/gpu.py               # Wan 2.1 1.3B, Wan 2.1 14B I2V 480p, Qwen-Image
    python bench/gpu.py --models wan2.1-t2v-1.3b --offload none,model --steps 3

No weights are downloaded: each pipeline is built from the full-size configs of the released
models with random weights (the speed and memory of a step do not depend on the values), in
bfloat16, straight on the GPU. For each offload setting it records the time to build and place
the pipeline (``load_s``; weights from disk add the read on top), seconds per denoising step
at the model's native size and frame count (the median of the steps after the first), and
peak GPU memory. Results go to ``bench/results.json`` under ``gpu``, with the card's name.
Without CUDA it refuses in one line. ``--check`` runs the same code on the CPU with the test
suite's tiny pipelines of the same models (``tests/fixtures_diffusers.py``; for CI: it proves
the script works, it measures nothing worth keeping).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dramaforge.tools.diffusers.models import LADDER, MODELS
from tests.fixtures_diffusers import TINY, char_tokenizer

RESULTS = Path(__file__).with_name("results.json")
DEFAULT_MODELS = ["wan2.1-t2v-1.3b", "wan2.1-i2v-14b-480p", "qwen-image"]


def umt5() -> Any:
    """umt5-xxl, Wan's text encoder."""
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(
        vocab_size=256384,
        d_model=4096,
        d_kv=64,
        d_ff=10240,
        num_layers=24,
        num_heads=64,
        feed_forward_proj="gated-gelu",
        relative_attention_num_buckets=32,
    )
    return UMT5EncoderModel(config).eval()


def wan(name: str) -> Any:
    """Wan 2.1 T2V 1.3B or I2V 14B at the released configs (their ``config.json``)."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )

    i2v = name == "wan2.1-i2v-14b-480p"
    heads, ffn, layers = (40, 13824, 40) if i2v else (12, 8960, 30)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=128,
        in_channels=36 if i2v else 16,
        out_channels=16,
        text_dim=4096,
        freq_dim=256,
        ffn_dim=ffn,
        num_layers=layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
        image_dim=1280 if i2v else None,
        added_kv_proj_dim=heads * 128 if i2v else None,
    )
    parts = {
        "transformer": transformer,
        "vae": AutoencoderKLWan(),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
        "text_encoder": umt5(),
        "tokenizer": char_tokenizer(),
    }
    if not i2v:
        return WanPipeline(**parts)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    vision = CLIPVisionConfig(  # open-clip ViT-H/14, Wan's image encoder
        hidden_size=1280,
        intermediate_size=5120,
        num_hidden_layers=32,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
        hidden_act="gelu",
    )
    return WanImageToVideoPipeline(
        **parts,
        image_encoder=CLIPVisionModel(vision).eval(),
        image_processor=CLIPImageProcessor(crop_size=224, size=224),
    )


def qwen_image() -> Any:
    """Qwen-Image at its released config: the 20B MMDiT and Qwen2.5-VL-7B as text encoder."""
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default"},
        },
        vision_config={
            "depth": 32,
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "out_hidden_size": 3584,
        },
        hidden_size=3584,
        vocab_size=152064,
    )
    return QwenImagePipeline(
        transformer=QwenImageTransformer2DModel(),  # the defaults are Qwen-Image's
        vae=AutoencoderKLQwenImage(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=Qwen2_5_VLForConditionalGeneration(config).eval(),
        tokenizer=char_tokenizer(),
    )


BUILDERS: dict[str, Callable[[], Any]] = {
    "wan2.1-t2v-1.3b": lambda: wan("wan2.1-t2v-1.3b"),
    "wan2.1-i2v-14b-480p": lambda: wan("wan2.1-i2v-14b-480p"),
    "qwen-image": qwen_image,
}
"""The full-size pipelines; ``--check`` builds the test suite's tiny ones of the same models."""


def build(name: str, tiny: bool) -> Any:
    """Model ``name``'s pipeline: the released config, or the tests' tiny one."""
    return TINY[name]() if tiny else BUILDERS[name]()


def arguments(name: str, steps: int, tiny: bool) -> dict[str, Any]:
    from PIL import Image

    spec = MODELS[name]
    width, height = (32, 16) if tiny else spec.size
    args: dict[str, Any] = {
        "prompt": "a girl in a red coat runs through the rain at night, neon reflections",
        "height": height,
        "width": width,
        "num_inference_steps": steps,
        "output_type": "np",
    }
    if spec.video:
        args |= {"num_frames": 9 if tiny else spec.frames, "guidance_scale": spec.guidance}
    else:
        args |= {"true_cfg_scale": spec.guidance, "negative_prompt": " "}
    if spec.kind == "i2v":
        args["image"] = Image.new("RGB", (width, height), (180, 60, 60))
    return args


def measure(name: str, offload: str, steps: int, device: str, tiny: bool) -> dict[str, Any]:
    """One model at one offload setting: build and place, then one generation."""
    import torch

    from dramaforge.tools.diffusers.pipelines import place

    cuda = device.startswith("cuda")
    dtype = torch.float32 if tiny else torch.bfloat16
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        # Random weights made where they will live: on the GPU for "none", else in host
        # memory (offload moves them in as they are used).
        with torch.device(device if offload == "none" else "cpu"):
            pipe = build(name, tiny)
    finally:
        torch.set_default_dtype(previous)
    place(pipe, MODELS[name], device, offload)
    pipe.set_progress_bar_config(disable=True)
    if cuda:
        torch.cuda.synchronize()
    load_s = time.perf_counter() - started
    marks: list[float] = []

    def step_end(p: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if cuda:
            torch.cuda.synchronize()
        marks.append(time.perf_counter())
        return kwargs

    begun = time.perf_counter()
    with torch.inference_mode():
        pipe(
            **arguments(name, steps, tiny),
            generator=torch.Generator("cpu").manual_seed(0),
            callback_on_step_end=step_end,
        )
    if cuda:
        torch.cuda.synchronize()
    total = time.perf_counter() - begun
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    per_step = statistics.median(gaps) if gaps else (marks[0] - begun if marks else total)
    peak = torch.cuda.max_memory_allocated() / 1e9 if cuda else None
    del pipe
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    spec = MODELS[name]
    return {
        "model": name,
        "offload": offload,
        "size": [arguments(name, steps, tiny)["width"], arguments(name, steps, tiny)["height"]],
        "frames": 9 if tiny and spec.video else spec.frames,
        "steps_run": steps,
        "seconds_per_step": round(per_step, 3),
        "seconds_total": round(total, 2),
        "load_s": round(load_s, 2),
        "peak_vram_gb": round(peak, 2) if peak is not None else None,
        "clip_estimate_s": round(per_step * spec.steps, 1),
    }


def card() -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(0)
    return {
        "name": torch.cuda.get_device_name(0),
        "memory_gb": round(props.total_memory / 1e9, 1),
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--offload", default=",".join(LADDER))
    parser.add_argument("--steps", type=int, default=4, help="denoising steps timed per run")
    parser.add_argument("--check", action="store_true", help="tiny configs on the CPU")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)
    try:
        import diffusers  # noqa: F401
        import torch
    except ImportError:
        print("bench/gpu.py needs the gpu extra: pip install -e '.[gpu]'", file=sys.stderr)
        return 2
    if not opts.check and not torch.cuda.is_available():
        print(
            f"bench/gpu.py needs a CUDA GPU; torch {torch.__version__} sees none "
            "(--check runs tiny configs on the CPU)",
            file=sys.stderr,
        )
        return 2
    names = [n for n in opts.models.split(",") if n]
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        print(f"no bench for {unknown}; choose from {sorted(BUILDERS)}", file=sys.stderr)
        return 2
    device = "cpu" if opts.check else "cuda:0"
    runs = []
    for name in names:
        for offload in opts.offload.split(","):
            try:
                runs.append(measure(name, offload, opts.steps, device, opts.check))
            except torch.OutOfMemoryError:
                gc.collect()
                torch.cuda.empty_cache()
                runs.append({"model": name, "offload": offload, "error": "out of memory"})
            print(json.dumps(runs[-1]), flush=True)
    entry = {
        "card": card() if not opts.check else {"name": "cpu (--check: tiny configs)"},
        "runs": runs,
        "note": "random weights at the released configs; load_s excludes reading from disk",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results = json.loads(opts.out.read_text()) if opts.out.is_file() else {}
    results["gpu"] = entry
    opts.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
