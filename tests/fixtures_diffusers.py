"""Tiny randomly-initialised diffusers pipelines of the real classes, saved like a user's
weights folder (``save``) so tests load them through the users' code path; ``bench/gpu.py
--check`` builds the same ones to prove its measuring code runs.

Nothing is downloaded: the tokenizers are built here (``tokenizers`` WordLevel, one token per
character, so the pipelines' long prompt templates make enough tokens to drop their prefix;
HunyuanVideo-I2V's also has its Llama-3 template's words and header tokens, the Qwen-Image-Edit
one the Qwen2.5-VL vision tokens) and the text encoders are made from configs. Shapes follow
diffusers' own fast tests (``tests/pipelines/wan``, ``tests/pipelines/qwenimage``,
``tests/pipelines/hunyuan_video``). torch and diffusers are imported inside the builders:
this module is only imported by tests that skip without them."""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPECIALS = ["<pad>", "<unk>", "</s>"]


def char_tokenizer(vocab_size: int = 128) -> Any:
    """A fast tokenizer with one token per printable ASCII character (others: ``<unk>``)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = [c for c in string.printable if c not in SPECIALS]
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars[: vocab_size - len(SPECIALS)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    )


def _umt5() -> Any:
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config = UMT5Config(
        vocab_size=128,
        d_model=32,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return UMT5EncoderModel(config).eval()


def _wan_transformer(in_channels: int, image_dim: int | None = None) -> Any:
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=image_dim,
        added_kv_proj_dim=2 * 12 if image_dim else None,
    )


def _wan_vae() -> Any:
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )


def wan_t2v() -> Any:
    """A tiny ``WanPipeline`` (text to video)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

    return WanPipeline(
        transformer=_wan_transformer(16),
        vae=_wan_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=_umt5(),
        tokenizer=char_tokenizer(),
    )


def wan_i2v() -> Any:
    """A tiny ``WanImageToVideoPipeline`` (Wan 2.1 I2V: CLIP image encoder, and the image's
    own key and value projections in cross-attention, as the released 14B has)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            intermediate_size=16,
            patch_size=1,
        )
    ).eval()
    return WanImageToVideoPipeline(
        transformer=_wan_transformer(36, image_dim=4),
        vae=_wan_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=_umt5(),
        tokenizer=char_tokenizer(),
        image_encoder=image_encoder,
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
    )


def _qwen_parts(tokenizer: Any, *, megapixel: bool = False) -> dict[str, Any]:
    """A tiny Qwen-Image transformer, VAE, scheduler and Qwen2.5-VL text encoder (from a
    config, vocabulary and vision token ids fitted to ``tokenizer``), shapes after diffusers'
    ``tests/pipelines/qwenimage``.

    ``megapixel``: the edit pipeline encodes its reference at about 1024 x 1024 whatever the
    output size, so its VAE is narrower and downsamples 16 times instead of 4: the reference
    becomes 32 x 32 transformer tokens, not 128 x 128 (seconds on a CPU, not a minute)."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=16,
        out_channels=4,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=16,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    torch.manual_seed(0)
    vae = AutoencoderKLQwenImage(
        base_dim=4 if megapixel else 24,
        z_dim=4,
        dim_mult=[1, 1, 1, 1, 1] if megapixel else [1, 2, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True, True, True] if megapixel else [False, True],
        latents_mean=[0.0] * 4,
        latents_std=[1.0] * 4,
    )
    vision_ids = {
        f"{name}_token_id": tokenizer.convert_tokens_to_ids(token)
        for name, token in (
            ("image", "<|image_pad|>"),
            ("video", "<|video_pad|>"),
            ("vision_start", "<|vision_start|>"),
            ("vision_end", "<|vision_end|>"),
        )
        if token in tokenizer.get_vocab()
    }
    vocab = 32 * -(-len(tokenizer) // 32)
    torch.manual_seed(0)
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "vocab_size": vocab,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
        },
        hidden_size=16,
        vocab_size=vocab,
        **vision_ids,
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "text_encoder": Qwen2_5_VLForConditionalGeneration(config).eval(),
        "tokenizer": tokenizer,
    }


def qwen_image() -> Any:
    """A tiny ``QwenImagePipeline`` (Qwen2.5-VL text encoder from a config)."""
    from diffusers import QwenImagePipeline

    return QwenImagePipeline(**_qwen_parts(char_tokenizer()))


def qwen_image_edit() -> Any:
    """A tiny ``QwenImageEditPipeline``: the Qwen-Image parts, a tokenizer with
    the vision tokens, and the image-only processor (``image_only_processor``) whose image
    processor shrinks the reference to a few 28-pixel patches for the tiny vision tower."""
    from diffusers import QwenImageEditPipeline
    from transformers import Qwen2VLImageProcessorPil

    tokenizer = qwen_vl_tokenizer()
    side = 28 * 4
    images = Qwen2VLImageProcessorPil(
        size={"shortest_edge": side * side // 4, "longest_edge": side * side}
    )
    processor = image_only_processor()(image_processor=images, tokenizer=tokenizer)
    return QwenImageEditPipeline(**_qwen_parts(tokenizer, megapixel=True), processor=processor)


def hunyuan_tokenizer() -> Any:
    """A tokenizer for HunyuanVideo-I2V's Llama-3 prompt template, built in-process.

    The pipeline's default template assumes Llama 3's tokens: a begin-of-text token, the
    header tokens and ``<image>`` at position 5 (where it places the 576 image embeddings),
    the text cropped after the template's 103 tokens. Here the template's words and its
    special tokens are single tokens, and anything else one token per character, so the
    template plus a prompt fits the pipeline's 256 + 103 tokens. The template's head is 162
    tokens here, not 103: a little of it stays in the text embeddings (values, not shapes)."""
    import re

    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video_image2video import (
        DEFAULT_PROMPT_TEMPLATE,
    )
    from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    template = str(DEFAULT_PROMPT_TEMPLATE["template"])
    words = sorted({w for w in re.findall(r"[A-Za-z]{2,}", template)}, key=len, reverse=True)
    chars = [c for c in string.printable if c not in SPECIALS]
    pieces = [*SPECIALS, *specials, "<image>", "\n\n", *chars, *words]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(pieces))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    alternatives = "|".join(re.escape(w) for w in ["\n\n", *words])
    core.pre_tokenizer = pre_tokenizers.Split(Regex(f"{alternatives}|."), behavior="isolated")
    core.add_special_tokens([AddedToken(t, special=True) for t in [*specials, "<image>"]])
    core.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", vocab[specials[0]])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<|eot_id|>",
        bos_token="<|begin_of_text|>",
    )


def hunyuan_i2v() -> Any:
    """A tiny ``HunyuanVideoImageToVideoPipeline``, sized for the pipeline's
    default prompt template: the Llava vision tower sees 48 x 48 pixels in 2 x 2 patches,
    576 image tokens, the count the template makes room for. Other shapes follow diffusers'
    fast test (``tests/pipelines/hunyuan_video/test_hunyuan_image2video.py``)."""
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoImageToVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    tokenizer = hunyuan_tokenizer()
    pad, image_token = tokenizer.pad_token_id, tokenizer.convert_tokens_to_ids("<image>")
    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=2 * 4 + 1,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        guidance_embeds=False,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
        image_condition_type="latent_concat",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )
    text_config = LlamaConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        hidden_size=16,
        intermediate_size=32,
        num_attention_heads=4,
        num_hidden_layers=2,
        pad_token_id=pad,
        vocab_size=256,
    )
    vision_config = CLIPVisionConfig(
        hidden_size=8,
        intermediate_size=16,
        projection_dim=8,
        num_attention_heads=2,
        num_hidden_layers=2,
        image_size=48,
        patch_size=2,
    )
    torch.manual_seed(0)
    text_encoder = LlavaForConditionalGeneration(
        LlavaConfig(
            vision_config=vision_config,
            text_config=text_config,
            pad_token_id=pad,
            image_token_index=image_token,
        )
    ).eval()
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=2,
            pad_token_id=0,
            vocab_size=128,
            projection_dim=8,
        )
    ).eval()
    return HunyuanVideoImageToVideoPipeline(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=text_encoder_2,
        tokenizer_2=char_tokenizer(),
        image_processor=CLIPImageProcessor(crop_size=48, size=48),
    )


TINY: dict[str, Callable[[], Any]] = {
    "wan2.1-t2v-1.3b": wan_t2v,
    "wan2.1-i2v-14b-480p": wan_i2v,
    "qwen-image": qwen_image,
    "hunyuanvideo-i2v": hunyuan_i2v,
    "qwen-image-edit": qwen_image_edit,
}
"""Each open model's tiny pipeline, by the model's name in ``tools/diffusers/models``; the
backend tests save them as a user's models folder, ``bench/gpu.py --check`` times them."""


def save(name: str, folder: Path) -> Path:
    """Model ``name``'s tiny pipeline saved at ``folder`` as a user's weights folder."""
    TINY[name]().save_pretrained(folder)
    return folder


QWEN_VL_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]


def qwen_vl_tokenizer() -> Any:
    """The character tokenizer plus the Qwen2.5-VL chat and vision tokens the edit
    pipeline's prompt template uses, each one token."""
    tokenizer = char_tokenizer()
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [*QWEN_VL_SPECIALS, "<|image_pad|>", "<|video_pad|>"]}
    )
    return tokenizer


@functools.cache
def image_only_processor() -> Any:
    """``Qwen2VLProcessor`` without its video processor, as a class.

    transformers 5 builds and loads a ``Qwen2VLProcessor`` only with a video processor, and
    its video processors need torchvision, which does not import beside the CPU torch here
    (constructing one fails in ``check_argument_for_proper_class``: ``VideoProcessorMixin``
    is not importable). The edit pipeline only passes images, so this subclass declares only
    the image processor and the tokenizer; all it does with them is ``Qwen2VLProcessor``'s
    own code. diffusers records it in ``model_index.json`` as this module's
    ``ImageOnlyQwen2VLProcessor`` and loads it from here (the module's ``__getattr__``)."""
    from transformers import Qwen2VLProcessor

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):  # type: ignore[misc]
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, **kw: Any) -> None:
            super().__init__(image_processor, tokenizer, **kw)

    ImageOnlyQwen2VLProcessor.__module__ = __name__
    ImageOnlyQwen2VLProcessor.__qualname__ = "ImageOnlyQwen2VLProcessor"
    return ImageOnlyQwen2VLProcessor


def __getattr__(name: str) -> Any:
    """This module as a library diffusers loads a component from: the class, and the base
    class (``ProcessorMixin``) by which diffusers picks its loading method."""
    if name == "ImageOnlyQwen2VLProcessor":
        return image_only_processor()
    if name == "ProcessorMixin":
        from transformers import ProcessorMixin

        return ProcessorMixin
    raise AttributeError(name)
