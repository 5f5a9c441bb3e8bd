"""Tests of the opensfx judge (recipes/opensfx/judge.py) on a tiny synthetic corpus made here."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from audiodiff.config import AudioConfig  # noqa: E402
from opensfx.evaluate import EvalSettings, evaluate  # noqa: E402
from opensfx.judge import (  # noqa: E402
    CaptionIndex,
    Judge,
    JudgeConfig,
    JudgeError,
    PromptSpec,
    calibrate,
    calibrate_on_validation,
    clip_logits,
    judge_categories,
    load_judge,
    load_log_mels,
    read_corpus,
    read_prompts,
    resolve_prompts,
    save_judge,
    target_ranks,
    topk_hits,
    train_judge,
)

RATE = 16000
TINY = JudgeConfig(channels=(16, 32), crop_seconds=0.64, batch_size=8, epochs=5, learning_rate=1e-2, seed=0)
CATEGORIES = {
    "low_hum": ["a low hum", "a deep tone"],
    "high_beep": ["a high beep", "a shrill tone"],
    "noise_burst": ["a burst of noise", "a hiss"],
}


def synthetic_clip(category: str, rng: np.random.Generator) -> np.ndarray:
    """0.4-1.4 s of a low sine (150-300 Hz), a high sine (2-4 kHz) or white-noise bursts, ``(samples,)`` float32."""
    seconds = rng.uniform(0.4, 1.4)
    t = np.arange(int(seconds * RATE)) / RATE
    if category == "noise_burst":
        envelope = (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0).astype(np.float32)
        audio = 0.4 * rng.standard_normal(t.size) * envelope
    else:
        low, high = (150, 300) if category == "low_hum" else (2000, 4000)
        audio = 0.5 * np.sin(2 * np.pi * rng.uniform(low, high) * t) + 0.01 * rng.standard_normal(t.size)
    return (audio * rng.uniform(0.3, 1.0)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus-layout folder: clips/*.ogg + metadata.jsonl, 10 train and 3 validation clips per category,
    plus one category with a single train clip (too few for the judge)."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "clips").mkdir()
    rng = np.random.default_rng(0)
    plan = [(c, split) for split, count in (("train", 10), ("validation", 3)) for c in CATEGORIES for _ in range(count)]
    plan.append(("low_hum_rare", "train"))
    rows = []
    for i, (category, split) in enumerate(plan):
        name = f"clips/{category}_{i:03d}.ogg"
        audio = synthetic_clip(category.replace("_rare", ""), rng)
        sf.write(root / name, audio, RATE, format="OGG", subtype="VORBIS")
        captions = CATEGORIES.get(category, ["a rare low hum"])
        rows.append({"file_name": name, "caption": captions[0], "captions": captions, "category": category,
                     "split": split, "duration_s": round(len(audio) / RATE, 3)})
    (root / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root


@pytest.fixture(scope="module")
def trained(corpus: Path) -> tuple[Judge, dict]:
    torch.manual_seed(0)
    return train_judge(corpus, AudioConfig(), TINY)


def validation_mels(judge: Judge, corpus: Path) -> tuple[list[torch.Tensor], torch.Tensor]:
    rows = [row for row in read_corpus(corpus) if row["split"] == "validation"]
    targets = torch.tensor([judge.index_of(row["category"]) for row in rows])
    return load_log_mels(corpus, rows, judge.mel), targets


def test_judge_learns_the_categories_of_held_out_clips(trained, corpus):
    judge, report = trained
    assert judge.categories == ["high_beep", "low_hum", "noise_burst"]  # low_hum_rare: one train clip, left out
    assert report["train_clips"] == 30 and report["steps"] == report["planned_steps"] > 0
    mels, targets = validation_mels(judge, corpus)
    accuracy = float(topk_hits(clip_logits(judge, mels), targets, 1).float().mean())
    assert accuracy >= 0.85, accuracy  # chance: 1/3


def test_logits_for_any_length_and_waveform_input(trained):
    judge, _ = trained
    with torch.no_grad():
        short = judge.logits(torch.zeros(2, 800) + 0.01)  # 50 ms: 5 frames, fewer than the 4x pooling
        long = judge.logits(torch.randn(1, 3 * RATE) * 0.1)
    assert short.shape == (2, 3) and long.shape == (1, 3)
    assert torch.isfinite(short).all() and torch.isfinite(long).all()


def test_padding_does_not_change_the_logits(trained, corpus):
    judge, _ = trained
    mel = validation_mels(judge, corpus)[0][0].float()
    padded = torch.cat([mel, torch.full((mel.shape[0], 37), -3.0)], dim=1).unsqueeze(0)
    mask = torch.cat([torch.ones(mel.shape[1]), torch.zeros(37)]).unsqueeze(0)
    with torch.no_grad():
        expected = judge.logits_from_mels(mel.unsqueeze(0))
        assert torch.allclose(judge.logits_from_mels(padded, mask), expected, atol=1e-5)


def test_save_then_load_gives_identical_logits(trained, corpus, tmp_path):
    judge, _ = trained
    save_judge(judge, tmp_path / "judge", extra={"note": "test"})
    settings = json.loads((tmp_path / "judge" / "judge.json").read_text())
    assert settings["categories"] == judge.categories and settings["note"] == "test"
    assert settings["audio"]["n_mels"] == 64 and settings["judge"]["channels"] == [16, 32]
    loaded = load_judge(tmp_path / "judge")
    mels, _ = validation_mels(judge, corpus)
    assert torch.equal(clip_logits(loaded, mels), clip_logits(judge, mels))
    assert (tmp_path / "judge" / "model.safetensors").stat().st_size < 64 * 1024


def test_load_judge_names_the_missing_file(tmp_path):
    with pytest.raises(JudgeError, match="judge.json not found"):
        load_judge(tmp_path)


def test_ceiling_is_above_floor_on_the_tiny_set(trained, corpus):
    judge, _ = trained
    result = calibrate_on_validation(judge, corpus)
    assert result["clips"] == 9 and result["skipped_clips"] == 0
    assert result["ceiling"]["top1"] > result["floor"]["top1"] + 0.3
    assert result["ceiling"]["top5"] == result["floor"]["top5"] == 1.0  # 3 categories: always in the top 5


def test_calibrate_on_hand_made_logits():
    logits = torch.eye(4)  # clip i predicts category i perfectly
    targets = torch.arange(4)
    result = calibrate(logits, targets, shuffles=50, seed=1)
    assert result["ceiling"] == {"top1": 1.0, "top5": 1.0}
    assert 0.1 < result["floor"]["top1"] < 0.45  # a random permutation of 4 has 1 fixed point on average
    assert result == calibrate(logits, targets, shuffles=50, seed=1)  # seeded
    with pytest.raises(JudgeError, match="No validation clip"):
        calibrate(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))


def test_target_ranks_and_topk_hits():
    logits = torch.tensor([[0.1, 0.9, 0.5, 0.3, 0.2, 0.0, -1.0],
                           [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
    assert target_ranks(logits, torch.tensor([1, 0])).tolist() == [0, 2]  # ties count against the target
    assert target_ranks(logits, torch.tensor([6, 3])).tolist() == [6, 6]
    assert topk_hits(logits, torch.tensor([2, 1]), 1).tolist() == [False, False]
    assert topk_hits(logits, torch.tensor([2, 1]), 5).tolist() == [True, True]
    assert topk_hits(logits, torch.tensor([5, 3]), 5).tolist() == [False, False]


def test_judge_categories_and_corpus_errors(corpus, tmp_path):
    rows = read_corpus(corpus)
    assert judge_categories(rows, 1) == ["high_beep", "low_hum", "low_hum_rare", "noise_burst"]
    assert judge_categories(rows, 2) == ["high_beep", "low_hum", "noise_burst"]
    with pytest.raises(JudgeError, match="categories have"):
        judge_categories(rows, 11)
    with pytest.raises(JudgeError, match="metadata.jsonl not found"):
        read_corpus(tmp_path)
    with pytest.raises(JudgeError, match="no category 'dog_bark'"):
        Judge(AudioConfig(), ["a", "b"], TINY).index_of("dog_bark")


def test_read_prompts_tsv_and_json(tmp_path):
    tsv = tmp_path / "prompts.tsv"
    tsv.write_text("# prompts\nprompt\tcategory\na low hum\tlow_hum\n\nA Shrill Tone.\t\nsomething\tnoise_burst\n")
    assert read_prompts(tsv) == [PromptSpec("a low hum", "low_hum"), PromptSpec("A Shrill Tone.", None),
                                 PromptSpec("something", "noise_burst")]
    data = [{"prompt": "a hiss", "category": "noise_burst"}, {"prompt": "a high beep"}]
    (tmp_path / "prompts.json").write_text(json.dumps(data))
    assert read_prompts(tmp_path / "prompts.json") == [PromptSpec("a hiss", "noise_burst"), PromptSpec("a high beep")]


@pytest.mark.parametrize("text, message", [
    ("a\tb\tc\n", "expected 'prompt<TAB>category'"),
    ("\tlow_hum\n", "expected 'prompt<TAB>category'"),
    ("# only a comment\n", "holds no prompt"),
])
def test_read_prompts_rejects_bad_files(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(JudgeError, match=message):
        read_prompts(path)
    with pytest.raises(JudgeError, match="not found"):
        read_prompts(tmp_path / "missing.tsv")


def test_caption_index_and_resolve_prompts(corpus):
    index = CaptionIndex(read_corpus(corpus))
    assert index.category_for("A  deep tone.") == "low_hum"  # a paraphrase, case and spacing ignored
    assert index.category_for("a dog barking") is None
    specs = [PromptSpec("a hiss"), PromptSpec("my own words", "high_beep")]
    expected = [PromptSpec("a hiss", "noise_burst"), PromptSpec("my own words", "high_beep")]
    assert resolve_prompts(specs, index) == expected
    with pytest.raises(JudgeError, match="no corpus caption"):
        resolve_prompts([PromptSpec("a dog barking")], index)
    with pytest.raises(JudgeError, match="'dog_bark' is not in the corpus"):
        resolve_prompts([PromptSpec("a dog barking", "dog_bark")], index)


def test_evaluate_writes_summary_table_images_and_audio(trained, corpus, tiny_pipeline_dir, tmp_path):
    judge, _ = trained
    save_judge(judge, tmp_path / "judge")
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text("prompt\tcategory\na low hum\t\na high beep\thigh_beep\na rare low hum\tlow_hum_rare\n")
    settings = EvalSettings(seeds=2, duration=0.5, steps=2, device="cpu")
    summary = evaluate(tiny_pipeline_dir, prompts, tmp_path / "judge", corpus, tmp_path / "out", settings)

    assert summary["overall"]["clips"] == 4  # 2 scored prompts x 2 seeds
    assert 0.0 <= summary["overall"]["top1"] <= summary["overall"]["top5"] == 1.0  # 3 categories
    assert summary["unscored_prompts"] == ["a rare low hum"]
    first = summary["per_prompt"][0]
    assert first["category"] == "low_hum" and first["scored"] and len(first["seeds"]) == 2
    assert summary["per_prompt"][2]["top1"] is None and summary["per_prompt"][2]["seeds"][0]["rank"] is None
    assert summary["validation"]["ceiling"]["top1"] > summary["validation"]["floor"]["top1"]
    out = tmp_path / "out"
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    table = (out / "per_prompt.md").read_text()
    assert "| a high beep | high_beep |" in table and "unscored" in table
    for p in summary["per_prompt"]:
        assert (out / p["image"]).stat().st_size > 1000
        assert [sf.info(str(out / path)).frames for path in p["audio"]] == [8000, 8000]


def test_evaluate_from_audio_rescores_an_earlier_run(trained, corpus, tiny_pipeline_dir, tmp_path):
    """--from-audio reads the earlier run's WAVs (no generation): same clips, so the same ranks; a missing
    clip (more seeds than were generated) is named."""
    judge, _ = trained
    save_judge(judge, tmp_path / "judge")
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text("prompt\tcategory\na low hum\t\na high beep\thigh_beep\n")
    settings = EvalSettings(seeds=2, duration=0.5, steps=2, device="cpu")
    first = evaluate(tiny_pipeline_dir, prompts, tmp_path / "judge", corpus, tmp_path / "first", settings)
    again = evaluate(tmp_path / "no-model-needed", prompts, tmp_path / "judge", corpus, tmp_path / "again",
                     EvalSettings(seeds=2, from_audio=tmp_path / "first"))
    assert again["from_audio"] == str(tmp_path / "first")
    ranks = [[s["rank"] for s in p["seeds"]] for p in first["per_prompt"]]
    assert [[s["rank"] for s in p["seeds"]] for p in again["per_prompt"]] == ranks
    with pytest.raises(JudgeError, match="_2.wav is missing"):
        evaluate(tiny_pipeline_dir, prompts, tmp_path / "judge", corpus, tmp_path / "third",
                 EvalSettings(seeds=3, from_audio=tmp_path / "first"))


def test_evaluate_rejects_unknown_categories(trained, corpus, tiny_pipeline_dir, tmp_path):
    save_judge(trained[0], tmp_path / "judge")
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text("a dog barking\tdog_bark\n")
    with pytest.raises(JudgeError, match="'dog_bark' is not in the corpus"):
        evaluate(tiny_pipeline_dir, prompts, tmp_path / "judge", corpus, tmp_path / "out", EvalSettings(seeds=1))


def test_generate_clips_with_another_sampler(tiny_pipeline_dir):
    """--scheduler swaps the model's sampler for the run: the same seeds through two samplers give other
    clips of the same length, and one sampler twice gives the same clips."""
    from opensfx.evaluate import generate_clips  # noqa: PLC0415

    base = EvalSettings(seeds=1, duration=0.5, steps=3, device="cpu", dtype="float32")
    ddim, rate = generate_clips(tiny_pipeline_dir, ["a low hum"], replace(base, scheduler="ddim"))
    euler, _ = generate_clips(tiny_pipeline_dir, ["a low hum"], replace(base, scheduler="euler"))
    again, _ = generate_clips(tiny_pipeline_dir, ["a low hum"], replace(base, scheduler="ddim"))
    assert ddim.shape == euler.shape == (1, int(0.5 * rate))
    assert np.abs(ddim - euler).max() > 1e-4
    np.testing.assert_array_equal(ddim, again)
