"""recipes/opensfx/generation_report.py and its measures (audiodiff.evaluation.generation_measures): diversity,
nearest train clip and harmonic contrast of generated clips."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from audiodiff.evaluation.generation_measures import (  # noqa: E402
    contrast_ratio,
    diversity,
    nearest_train,
    pitched_contrast,
    sliding_correlation,
)
from audiodiff.mel import MelSpectrogram  # noqa: E402
from opensfx.evaluate import clip_name  # noqa: E402
from opensfx.generation_report import main  # noqa: E402
from tests.conftest import SAMPLE_RATE, tone  # noqa: E402

HOP = 160
WINDOW = 80  # 0.8 s


@pytest.fixture(scope="module")
def mel() -> MelSpectrogram:
    return MelSpectrogram().eval()


def log_mels(mel: MelSpectrogram, *audios: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return mel(torch.from_numpy(np.stack(audios)))


def harmonic(f0: float, seconds: float) -> np.ndarray:
    """A voiced-like tone: six partials of ``f0`` Hz falling as 1/k."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return sum(0.1 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 7)).astype(np.float32)


def chirp_burst(seconds: float, seed: int) -> np.ndarray:
    """A rising chirp under a bell-shaped envelope (loudest in the middle) plus a little noise."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.exp(-(((t - seconds / 2) / (seconds / 4)) ** 2))
    rng = np.random.default_rng(seed)
    return (0.5 * envelope * np.sin(2 * np.pi * (300 * t + 800 * t**2)) + 0.01 * rng.standard_normal(t.size)
            ).astype(np.float32)


def noise(seconds: float, seed: int, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def embed(clip: np.ndarray, seconds: float, offset: int, seed: int) -> np.ndarray:
    """``clip`` copied into quiet noise of ``seconds`` s, starting at sample ``offset``."""
    host = noise(seconds, seed, amplitude=0.005)
    host[offset : offset + clip.size] = clip
    return host


# ---------------------------------------------------------------------------------------------- diversity
def test_diversity_of_identical_independent_and_shifted_clips(mel):
    clip = tone(440.0, 1.0)
    assert diversity(log_mels(mel, clip, clip, clip)) == pytest.approx(1.0, abs=1e-5)
    assert abs(diversity(log_mels(mel, *(noise(1.0, seed) for seed in range(3))))) < 0.1
    burst = np.zeros(SAMPLE_RATE, dtype=np.float32)
    burst[: SAMPLE_RATE // 2] = tone(440.0, 0.5)
    shifted = np.roll(burst, SAMPLE_RATE // 8)  # overlaps three quarters of the burst
    assert 0.2 < diversity(log_mels(mel, burst, shifted)) < 0.9
    assert diversity(log_mels(mel, clip)) is None


# ---------------------------------------------------------------------------------------------- nearest train clip
def test_sliding_correlation_is_pearson_at_every_offset():
    generator = torch.Generator().manual_seed(0)
    windows, target = torch.randn(2, 5, 7, generator=generator), torch.randn(5, 20, generator=generator)
    result = sliding_correlation(windows, target)
    assert result.shape == (2, 14)
    for b, offset in ((0, 0), (1, 6), (0, 13)):
        pair = torch.stack([windows[b].flatten(), target[:, offset : offset + 7].flatten()])
        assert float(result[b, offset]) == pytest.approx(float(torch.corrcoef(pair)[0, 1]), abs=1e-5)
    silent = torch.zeros(1, 5, 7)
    assert float(sliding_correlation(silent, target).abs().max()) == 0.0


def test_a_copied_train_clip_is_nearest_at_one_and_noise_well_below(mel):
    train = [chirp_burst(1.5, seed=0), harmonic(200.0, 1.2), noise(0.4, seed=9)]  # the last shorter than 0.8 s
    train_mels = [log_mels(mel, clip)[0] for clip in train]
    copy = embed(train[0], 3.0, offset=HOP * 70, seed=1)
    unrelated = noise(3.0, seed=2)
    scores = nearest_train(list(log_mels(mel, copy, unrelated)), train_mels, WINDOW)
    assert scores[0] > 0.99
    assert scores[1] < 0.6
    assert math.isnan(nearest_train(list(log_mels(mel, copy)), [], WINDOW)[0])  # no train clip: no figure


# ---------------------------------------------------------------------------------------------- harmonic contrast
def test_contrast_ratio_is_one_for_itself_and_below_for_a_mel_smoothed_copy(mel):
    audio = torch.from_numpy(np.stack([harmonic(180.0, 1.0), harmonic(240.0, 1.0)]))
    with torch.no_grad():
        sharp = mel(audio)
    blurred = F.avg_pool1d(sharp.transpose(1, 2), 5, stride=1, padding=2, count_include_pad=False).transpose(1, 2)
    real = pitched_contrast(audio, sharp, HOP, SAMPLE_RATE)
    assert real.frames > 150 and real.real_mean > 1.0  # nepers
    assert contrast_ratio(real, real) == pytest.approx(1.0)
    assert contrast_ratio(pitched_contrast(audio, blurred, HOP, SAMPLE_RATE), real) < 0.9
    hiss = torch.from_numpy(noise(1.0, seed=3))[None]
    assert contrast_ratio(pitched_contrast(hiss, mel(hiss), HOP, SAMPLE_RATE), real) is None  # no pitched frame


# ---------------------------------------------------------------------------------------------- the CLI
PROMPTS = [("a low hum", "hum"), ("a rising chirp", "chirp")]


def write_corpus(root: Path) -> dict[str, list[np.ndarray]]:
    """Two categories, three train clips and one validation clip each; returns the train clips."""
    (root / "clips").mkdir(parents=True)
    plan = {"hum": [harmonic(f0, 1.0) for f0 in (150.0, 170.0, 190.0, 210.0)],
            "chirp": [chirp_burst(1.0, seed) for seed in range(3)] + [noise(0.5, seed=4)]}
    rows = []
    for category, clips in plan.items():
        for i, audio in enumerate(clips):
            name = f"clips/{category}_{i}.wav"
            sf.write(root / name, audio, SAMPLE_RATE)
            rows.append({"file_name": name, "caption": dict((c, p) for p, c in PROMPTS)[category],
                         "category": category, "split": "validation" if i == 3 else "train"})
    (root / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return {category: clips[:3] for category, clips in plan.items()}


def write_report(folder: Path, clips: list[np.ndarray]) -> Path:
    """A fake evaluate.py folder: ``clips`` are prompt 0 seeds 0, 1 then prompt 1 seeds 0, 1."""
    for index, (prompt, _) in enumerate(PROMPTS):
        for seed in range(2):
            path = folder / "audio" / f"{clip_name(index, prompt)}_{seed}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, clips[2 * index + seed], SAMPLE_RATE)
    return folder


def test_cli_measures_two_reports_side_by_side(tmp_path):
    train = write_corpus(tmp_path / "data")
    MelSpectrogram().save_pretrained(tmp_path / "model" / "mel")
    (tmp_path / "prompts.tsv").write_text("prompt\tcategory\n" + "".join(f"{p}\t{c}\n" for p, c in PROMPTS))
    copies = write_report(tmp_path / "copies", [embed(clip, 2.0, HOP * 40, seed) for seed, clip in
                                                enumerate(train["hum"][:2] + train["chirp"][:2])])
    fresh = write_report(tmp_path / "fresh", [harmonic(300.0, 2.0), noise(2.0, 5), noise(2.0, 6), noise(2.0, 7)])
    main(["--reports", f"copies={copies}", f"fresh={fresh}", "--prompts", str(tmp_path / "prompts.tsv"),
          "--data", str(tmp_path / "data"), "--model", str(tmp_path / "model"), "--seeds", "2",
          "--out", str(tmp_path / "result.json"), "--markdown", str(tmp_path / "result.md")])
    result = json.loads((tmp_path / "result.json").read_text())
    assert list(result["reports"]) == ["copies", "fresh"] and result["settings"]["window_frames"] == WINDOW
    hum, chirp = result["reports"]["copies"]["per_prompt"]
    assert (hum["category"], hum["train_clips"], hum["validation_clips"]) == ("hum", 3, 1)
    assert hum["nearest_train_max"] > 0.99 and chirp["nearest_train_mean"] > 0.99
    assert hum["harmonic_contrast_ratio"] == pytest.approx(1.0, abs=0.1)
    assert chirp["diversity"] < 0.99 and 0 < hum["validation_nearest_max"] < 1.0
    fresh_chirp = result["reports"]["fresh"]["per_prompt"][1]
    assert fresh_chirp["nearest_train_max"] < chirp["nearest_train_max"] - 0.2
    assert fresh_chirp["harmonic_contrast_ratio"] is None  # noise: no pitched frame
    overall = result["reports"]["copies"]["overall"]
    assert overall["clips_above_validation_max"] == 4 and overall["harmonic_contrast_prompts"] >= 1
    table = (tmp_path / "result.md").read_text()
    assert "diversity copies" in table and "| a rising chirp | chirp |" in table and "overall" in table


def test_cli_names_a_missing_clip(tmp_path):
    write_corpus(tmp_path / "data")
    MelSpectrogram().save_pretrained(tmp_path / "model" / "mel")
    (tmp_path / "prompts.tsv").write_text("".join(f"{p}\t{c}\n" for p, c in PROMPTS))
    with pytest.raises(SystemExit, match="is missing"):
        main(["--reports", f"empty={tmp_path / 'empty'}", "--prompts", str(tmp_path / "prompts.tsv"), "--data",
              str(tmp_path / "data"), "--model", str(tmp_path / "model"), "--out", str(tmp_path / "r.json")])
