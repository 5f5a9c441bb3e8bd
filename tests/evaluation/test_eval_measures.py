"""The evaluation measures on signals whose ranking is known: a clip against itself, lightly and heavily degraded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audiodiff.evaluation import measures
from tests.conftest import SAMPLE_RATE

pytest.importorskip("visqol", reason="the eval extra is not installed (pip install -e '.[eval]')")


def vowel(seconds: float = 1.5, f0: float = 140.0) -> np.ndarray:
    """A harmonic, amplitude-modulated 'vowel' (voiced, pitched) with a little noise, float32 at 16 kHz."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 2 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    audio = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    audio += 0.003 * np.random.default_rng(0).standard_normal(t.size)
    return (0.2 * audio).astype(np.float32)


def with_noise(audio: np.ndarray, level: float, seed: int = 1) -> np.ndarray:
    return (audio + level * np.random.default_rng(seed).standard_normal(audio.size)).astype(np.float32)


@pytest.fixture(scope="module")
def signals() -> dict[str, np.ndarray]:
    ref = vowel()
    return {"ref": ref, "light": with_noise(ref, 0.005), "heavy": with_noise(ref, 0.1)}


def test_visqol_ranks_identical_above_light_above_heavy_degradation(signals):
    same = measures.visqol_audio(signals["ref"], signals["ref"], SAMPLE_RATE)
    light = measures.visqol_audio(signals["ref"], signals["light"], SAMPLE_RATE)
    heavy = measures.visqol_audio(signals["ref"], signals["heavy"], SAMPLE_RATE)
    assert 1.0 <= heavy < light < same <= 5.0
    short = signals["ref"][: SAMPLE_RATE // 2]
    assert measures.visqol_audio(short, short, SAMPLE_RATE) is None


def test_pesq_ranks_degradations_and_refuses_silence(signals):
    light = measures.pesq_wideband(signals["ref"], signals["light"], SAMPLE_RATE)
    heavy = measures.pesq_wideband(signals["ref"], signals["heavy"], SAMPLE_RATE)
    assert heavy < light <= 4.65
    silence = np.zeros_like(signals["ref"])
    assert measures.pesq_wideband(silence, silence, SAMPLE_RATE) is None


def test_pitch_measures(signals):
    same = measures.pitch_measures(signals["ref"], signals["ref"], SAMPLE_RATE)
    assert same["periodicity_rmse"] == 0.0 and same["vuv_f1"] == 1.0
    noise = np.random.default_rng(2).standard_normal(signals["ref"].size).astype(np.float32) * 0.2
    against_noise = measures.pitch_measures(signals["ref"], noise, SAMPLE_RATE)
    assert against_noise["periodicity_rmse"] > 0.2 and against_noise["vuv_f1"] < 0.5
    p_ref = measures.crepe_periodicity(signals["ref"], SAMPLE_RATE)
    assert measures.periodicity_scores(p_ref, measures.crepe_periodicity(noise, SAMPLE_RATE)) == against_noise
    silent = np.zeros_like(signals["ref"])
    assert math.isnan(measures.pitch_measures(silent, silent, SAMPLE_RATE)["vuv_f1"])


def test_mrstft_is_zero_on_identity_and_grows_with_noise(signals):
    assert measures.mrstft_distance(signals["ref"], signals["ref"]) < 1e-4
    assert 0 < measures.mrstft_distance(signals["ref"], signals["light"]) < measures.mrstft_distance(signals["ref"], signals["heavy"])


def test_dnsmos_scores_are_on_the_mos_scale(signals):
    scores = measures.dnsmos(signals["ref"], SAMPLE_RATE)
    assert set(scores) == {"ovrl", "sig", "bak", "p808"}
    assert all(0.5 < value < 5.5 for value in scores.values())
    noisy = measures.dnsmos(with_noise(signals["ref"], 0.2), SAMPLE_RATE)
    assert noisy["bak"] < scores["bak"]  # a louder background scores lower on DNSMOS' background axis


def test_missing_library_names_the_install_line(monkeypatch):
    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(measures.importlib, "import_module", missing)
    with pytest.raises(measures.InvalidArgumentError, match=r'pip install -e "\.\[eval\]"'):
        measures.mrstft_distance(np.zeros(100, np.float32), np.zeros(100, np.float32))
