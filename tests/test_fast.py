"""Fast paths (audiodiff.fast): each gives the plain path's audio within fp16 tolerance, on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

from audiodiff.errors import InvalidArgumentError
from audiodiff.fast import enable_fast_path, is_weight_norm_folded, prepare_for_inference
from audiodiff.loading import load_pipeline

DURATION = 0.5
STEPS = 3
PROMPTS = ["a cat meowing", "rain on a roof"]
# fp16 has a 2**-10 ~ 1e-3 relative step; audio lies in [-1, 1].
FP16_ATOL = 1e-3


def generate(pipe, **kwargs) -> np.ndarray:
    generators = [torch.Generator().manual_seed(s) for s in range(len(PROMPTS))]
    return pipe(PROMPTS, duration=DURATION, num_inference_steps=STEPS, generator=generators, **kwargs).audios


@pytest.fixture()
def plain_audio(tiny_pipeline) -> np.ndarray:
    return generate(tiny_pipeline)


def test_prepare_for_inference_folds_weight_norm_and_keeps_audio(tiny_pipeline, plain_audio):
    assert not is_weight_norm_folded(tiny_pipeline.vocoder)
    prepare_for_inference(tiny_pipeline)
    assert is_weight_norm_folded(tiny_pipeline.vocoder)
    np.testing.assert_allclose(generate(tiny_pipeline), plain_audio, atol=FP16_ATOL)


def test_vocoder_folded_equals_weight_normed(tiny_pipeline):
    mel = torch.randn(2, tiny_pipeline.mel.config.n_mels, 40)
    with torch.inference_mode():
        before = tiny_pipeline.vocoder(mel)
        tiny_pipeline.vocoder.remove_weight_norm()
        after = tiny_pipeline.vocoder(mel)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-4)


def test_sdpa_attention_restored(tiny_pipeline, plain_audio):
    tiny_pipeline.unet.set_attn_processor(AttnProcessor())
    np.testing.assert_allclose(generate(tiny_pipeline), plain_audio, atol=FP16_ATOL)  # the classic path agrees
    prepare_for_inference(tiny_pipeline)
    processors = list(tiny_pipeline.unet.attn_processors.values()) + list(tiny_pipeline.vae.attn_processors.values())
    assert processors and all(isinstance(p, AttnProcessor2_0) for p in processors)


def test_channels_last_equals_plain(tiny_pipeline, plain_audio):
    settings = enable_fast_path(tiny_pipeline, channels_last=True)
    assert settings.channels_last
    conv = tiny_pipeline.unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(generate(tiny_pipeline), plain_audio, atol=FP16_ATOL)


def test_call_runs_in_inference_mode(tiny_pipeline):
    seen = []
    tiny_pipeline.unet.register_forward_hook(lambda _m, _a, out: seen.append(torch.is_inference_mode_enabled()))
    generate(tiny_pipeline)
    assert seen and all(seen)


def test_text_encoded_once_per_batch(tiny_pipeline):
    calls = []
    tiny_pipeline.text_encoder.register_forward_hook(lambda *_: calls.append(1))
    generate(tiny_pipeline)
    assert len(calls) == 1  # prompts and negative prompts together, once, not per step


def test_load_pipeline_is_prepared(tiny_pipeline_dir, tiny_pipeline, plain_audio):
    pipe = load_pipeline(tiny_pipeline_dir, "cpu")
    pipe.set_progress_bar_config(disable=True)
    assert is_weight_norm_folded(pipe.vocoder)
    np.testing.assert_allclose(generate(pipe), plain_audio, atol=FP16_ATOL)


def test_unknown_compile_mode_is_rejected(tiny_pipeline):
    with pytest.raises(InvalidArgumentError, match="compile"):
        enable_fast_path(tiny_pipeline, compile="turbo")


def _log_mel(pipe, audio: np.ndarray) -> torch.Tensor:
    return pipe.mel(torch.from_numpy(audio))


def test_bf16_generation_stays_close_to_fp32(tiny_pipeline_dir):
    """bf16 U-Net, VAE and vocoder (sampler state in fp32): finite audio whose log-mel is close to fp32's."""
    fp32 = load_pipeline(tiny_pipeline_dir, "cpu", "float32")
    bf16 = load_pipeline(tiny_pipeline_dir, "cpu", "bfloat16")
    assert {next(getattr(bf16, n).parameters()).dtype for n in ("unet", "vae", "vocoder")} == {torch.bfloat16}
    assert next(bf16.text_encoder.parameters()).dtype == torch.float32
    for pipe in (fp32, bf16):
        pipe.set_progress_bar_config(disable=True)
    reference, fast = generate(fp32), generate(bf16)
    assert fast.dtype == np.float32 and np.isfinite(fast).all()
    difference = (_log_mel(fp32, fast) - _log_mel(fp32, reference)).abs().mean()
    spread = (_log_mel(fp32, reference) - _log_mel(fp32, reference).mean()).abs().mean()
    # measured 0.073 against a spread of 0.64 (natural-log mel); a broken cast would be as large as the spread
    assert difference < 0.25 * spread, (float(difference), float(spread))


def test_auto_dtype_follows_the_cpu_flags(tmp_path, monkeypatch):
    from audiodiff import devices
    from audiodiff.cpu_dtype import CpuDtypeChoice
    from audiodiff.errors import DeviceError

    amd = tmp_path / "zen4"
    amd.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert devices.cpu_has_bf16_units.__wrapped__(str(amd)) and not devices.cpu_has_bf16_units.__wrapped__(str(old))
    # auto follows the measured choice (audiodiff.cpu_dtype; tests/test_cpu_dtype.py), not the flags alone
    monkeypatch.setattr(devices, "auto_cpu_dtype", lambda threads: CpuDtypeChoice("bfloat16", "probe", 10.0, 5.0))
    assert devices.resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
    assert devices.resolve_dtype("auto", torch.device("cuda")) == torch.float32
    monkeypatch.setattr(devices, "auto_cpu_dtype", lambda threads: CpuDtypeChoice("float32", "probe", 110.0, 130.0))
    assert devices.resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert devices.resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(DeviceError, match="Unknown dtype"):
        devices.resolve_dtype("int8", torch.device("cpu"))
