"""recipes/opensfx/vae_report.py: mel L1 and harmonic contrast of the VAE against the clip-mean and 2x2-pool baselines."""

from __future__ import annotations

import json
import math

import numpy as np
import soundfile as sf

from recipes.opensfx.vae_report import report
from tests.conftest import SAMPLE_RATE


def test_report_scores_the_vae_and_both_baselines_with_harmonic_contrast(tiny_pipeline_dir, tmp_path):
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    with open(tmp_path / "metadata.jsonl", "w") as f:
        for i, f0 in enumerate((180.0, 240.0)):
            audio = sum(0.1 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 7)).astype(np.float32)
            sf.write(tmp_path / f"clip_{i}.wav", audio, SAMPLE_RATE)
            f.write(json.dumps({"file_name": f"clip_{i}.wav", "caption": "a tone", "split": "validation"}) + "\n")
    figures = report(tiny_pipeline_dir, tmp_path)
    assert figures["clips"] == 2 and figures["pitched_frames"] > 150
    assert figures["clip_mean_harmonic_contrast"] == 0.0  # a flat guess has no peaks
    assert 0 < figures["pool_2x2_harmonic_contrast"] < 0.9 and figures["harmonic_contrast_real"] > 1.0
    assert figures["pool_2x2"] < figures["clip_mean"] and math.isfinite(figures["vae_harmonic_contrast"])
