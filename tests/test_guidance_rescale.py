"""guidance_rescale (Lin et al. 2024, eq. 15-16): the sampling option added through the one declaration
(audiodiff/sampling.py) reaches the pipeline from the CLI, and rescales the guided prediction as the paper says."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.errors import InvalidArgumentError
from audiodiff.pipeline import guided_noise


def test_guided_noise_follows_the_paper():
    generator = torch.Generator().manual_seed(0)
    uncond, cond = torch.randn(2, 3, 4, 8, 5, generator=generator)
    plain = uncond + 3.0 * (cond - uncond)
    assert torch.equal(guided_noise(uncond, cond, 3.0), plain)
    assert torch.equal(guided_noise(uncond, cond, 3.0, 0.0), plain)
    # eq. 15-16: x_rescaled = x_cfg * std(x_pos) / std(x_cfg) per clip, x = phi * x_rescaled + (1 - phi) * x_cfg
    dims = (1, 2, 3)
    rescaled = plain * cond.std(dim=dims, keepdim=True) / plain.std(dim=dims, keepdim=True)
    for phi in (0.3, 1.0):
        torch.testing.assert_close(guided_noise(uncond, cond, 3.0, phi), phi * rescaled + (1 - phi) * plain)
    full = guided_noise(uncond, cond, 3.0, 1.0)
    torch.testing.assert_close(full.std(dim=dims), cond.std(dim=dims))


def test_the_pipeline_takes_it_and_zero_is_plain_guidance(tiny_pipeline):
    def run(**kwargs):
        return tiny_pipeline("rain", duration=0.5, num_inference_steps=3, guidance_scale=4.0,
                             generator=torch.Generator().manual_seed(1), **kwargs).audios

    plain = run()
    np.testing.assert_array_equal(run(guidance_rescale=0.0), plain)
    assert not np.array_equal(run(guidance_rescale=0.7), plain)
    with pytest.raises(InvalidArgumentError, match="guidance_rescale must be a number in"):
        run(guidance_rescale=-0.1)


def test_the_cli_flag_reaches_the_pipeline(tiny_pipeline_dir, tiny_pipeline, tmp_path, capsys):
    from audiodiff.cli import main

    output = tmp_path / "rain.wav"
    assert main(["generate", "rain", "--model", str(tiny_pipeline_dir), "--duration", "0.5", "--steps", "3",
                 "--guidance-scale", "4", "--guidance-rescale", "0.7", "--seed", "1", "--dtype", "float32",
                 "--device", "cpu", "-o", str(output)]) == 0
    written, _ = sf.read(output, dtype="float32")
    expected = tiny_pipeline("rain", duration=0.5, num_inference_steps=3, guidance_scale=4.0, guidance_rescale=0.7,
                             generator=torch.Generator().manual_seed(1)).audios[0]
    np.testing.assert_allclose(written, expected, atol=1 / 32767 + 1e-6)
    assert main(["generate", "rain", "--model", str(tiny_pipeline_dir), "--guidance-rescale", "2",
                 "-o", str(tmp_path / "bad.wav")]) == 1
    assert "guidance_rescale must be a number in [0, 1]" in capsys.readouterr().err
