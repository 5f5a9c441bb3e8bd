"""The VAE's GPU burst (recipes/opensfx/{pack,train}_vae_burst.py), run on the CPU with the tiny pipeline stored
in float16 (as checkpoints/default is): the pack keeps under its bound and holds the CPU trainer's validation
clips and a float32 init, the burst's validation is VAEStage's on those clips, it learns, a decoder-only burst
keeps the encoder bit-identical, and merge puts the VAE (and nothing else) into a pipeline folder, refusing a
changed encoder unless told the burst trained it."""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from diffusers import AutoencoderKL
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from tests.conftest import SAMPLE_RATE, make_split_audiofolder
from opensfx.audio_pack import MIB, AudioPack, PackCrops, PackWindows, folder_bytes
from opensfx.pack_vae_burst import pack
from opensfx.train_vae_burst import Burst, VaeParts, build_parser, merge, validation_crops

from audiodiff import AudioDiffusionPipeline
from audiodiff.data import AudioCaptionDataset, read_dataset
from audiodiff.mel import MelSpectrogram
from audiodiff.training.config import TrainConfig, VAETrainConfig
from audiodiff.training.vae import VAEStage

# (caption, frequency Hz, seconds); categories and splits are set below
CLIPS = [("a man speaking", 180, 1.2), ("a woman speaking", 260, 1.0), ("a violin", 440, 1.1), ("a violin", 660, 0.8),
         ("rain", 300, 1.3), ("rain", 350, 0.1), ("a door", 90, 0.7), ("a man speaking", 200, 0.8),
         ("a violin", 500, 0.9), ("a door", 120, 0.6)]
CATEGORIES = ["male_speech", "female_speech", "violin", "violin", "rain", "rain", "door", "male_speech", "violin",
              "door"]
VALIDATION = (7, 8, 9)
SEGMENT_SECONDS = 0.32


@pytest.fixture(scope="module")
def half_pipeline_dir(tiny_pipeline_dir, tmp_path_factory) -> Path:
    """The tiny pipeline with its VAE stored in float16, as the shipped checkpoints/default."""
    pipe = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    pipe.vae.half()
    path = tmp_path_factory.mktemp("half") / "pipeline"
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def audiofolder(tmp_path_factory) -> Path:
    """Ten clips in five categories: clips 0 and 7-9 mono OGG at 16 kHz (kept as they are, so they decode to what
    the CPU trainer reads), the rest 16 kHz WAVs (stored as FLAC); clips 7-9 in the validation split."""
    return make_split_audiofolder(tmp_path_factory.mktemp("vae-burst") / "data", CLIPS, CATEGORIES, VALIDATION,
                                  ogg=(0, *VALIDATION))


@pytest.fixture(scope="module")
def full_pack(audiofolder, half_pipeline_dir, tmp_path_factory) -> Path:
    """Every train clip, the first two validation clips and the float16 pipeline's VAE (as float32)."""
    out = tmp_path_factory.mktemp("pack") / "vae"
    pack(audiofolder, out, max_mib=4.0, validation_clips=2, init=half_pipeline_dir)
    return out


def vae_tensors(folder: Path) -> dict[str, torch.Tensor]:
    return AutoencoderKL.from_pretrained(folder, torch_dtype=torch.float32).state_dict()


def test_pack_holds_the_cpu_validation_clips_and_a_float32_init(full_pack, half_pipeline_dir):
    meta = json.loads((full_pack / "meta.json").read_text())
    assert [e["name"] for e in meta["validation"]] == ["clip_007.ogg", "clip_008.ogg"]  # the first two, in order
    assert sorted(e["name"] for e in meta["train"]) == ["clip_000.ogg"] + [f"clip_{i:03d}.wav" for i in range(1, 7)]
    weights = {e["name"]: e["weight"] for e in meta["train"]}
    assert weights["clip_000.ogg"] == 12 and weights["clip_002.wav"] == 3 and weights["clip_004.wav"] == 1
    [weights_file] = (full_pack / "init" / "vae").glob("*.safetensors")
    with safe_open(str(weights_file), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}
    source = vae_tensors(half_pipeline_dir / "vae")
    assert all(torch.equal(value, source[name]) for name, value in vae_tensors(full_pack / "init" / "vae").items())
    mel_config = Path("mel") / "config.json"
    assert filecmp.cmp(full_pack / "init" / mel_config, half_pipeline_dir / mel_config, shallow=False)


def test_pack_respects_its_bound(audiofolder, half_pipeline_dir, full_pack, tmp_path):
    init_mib = folder_bytes(full_pack / "init") / MIB
    bound = init_mib + (folder_bytes(full_pack) - folder_bytes(full_pack / "init")) / MIB * 0.7
    summary = pack(audiofolder, tmp_path / "small", max_mib=bound, validation_clips=2, init=half_pipeline_dir)
    assert folder_bytes(tmp_path / "small") <= bound * MIB
    assert summary["validation"]["clips"] == 2 and 0 < summary["train"]["clips"] < 7
    audio_only = pack(audiofolder, tmp_path / "audio", max_mib=0.5, validation_clips=2)  # no init: all audio
    assert not (tmp_path / "audio" / "init").exists() and folder_bytes(tmp_path / "audio") <= 0.5 * MIB
    assert audio_only["train"]["clips"] == 7 and audio_only["init_mib"] == 0


def draws(dataset: PackCrops, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` items of ``dataset`` as the loop's shuffled loader gives them, epoch after epoch."""
    items, epoch = [], 0
    while len(items) < count:
        dataset.set_epoch(epoch)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(epoch)).tolist()
        items += [dataset[i] for i in order]
        epoch += 1
    return torch.stack([i["audio"] for i in items[:count]]), torch.stack([i["audio_mask"] for i in items[:count]])


def test_crops_draw_clips_uniformly_whatever_their_length(full_pack):
    window = 1600  # clip_005 (0.1 s) is exactly one window: a uniform clip draw returns it whole 1 time in 7
    loaded = AudioPack(full_pack, SAMPLE_RATE, window, torch.device("cpu"), workers=2)
    short = int(torch.nonzero(loaded.lengths == window))
    whole = loaded.audio[loaded.starts[short]:loaded.starts[short] + window]
    audio, mask = draws(PackCrops(loaded, seed=0), 700)
    assert (mask == 1).all()  # every clip is at least a window long: full windows inside one clip
    assert 60 <= int((audio == whole).all(dim=1).sum()) <= 140  # ~100: clip_005 drawn as often as any other
    audio, _ = draws(PackWindows(loaded, seed=0), 700)
    assert int((audio == whole).all(dim=1).sum()) <= 5  # by start position: 1 of ~88,000


def burst_args(pack_dir: Path, init: Path, out: Path, *extra: str) -> argparse.Namespace:
    return build_parser().parse_args([
        "--pack", str(pack_dir), "--init", str(init), "--out", str(out), "--device", "cpu", "--mixed-precision", "no",
        "--batch-size", "4", "--segment-seconds", str(SEGMENT_SECONDS), "--log-every", "5", "--workers", "2",
        "--lr", "2e-3", *extra])


def test_validation_is_the_vae_stages_on_the_cpu_trainers_crops(full_pack, audiofolder, half_pipeline_dir, tmp_path):
    burst = Burst(burst_args(full_pack, full_pack / "init", tmp_path / "out"))
    ours = burst.stage.evaluate(0, tmp_path / "samples")
    validation = [clip for clip in read_dataset(audiofolder) if clip.split == "validation"][:2]
    dataset = AudioCaptionDataset(validation, SAMPLE_RATE, SEGMENT_SECONDS, train=False)
    pipeline = AudioDiffusionPipeline.from_pretrained(half_pipeline_dir)
    config = TrainConfig(segment_seconds=SEGMENT_SECONDS, vae=VAETrainConfig(train_encoder=False))
    expected = VAEStage(config, Accelerator(cpu=True), pipeline, dataset).evaluate(0, tmp_path / "cpu")
    assert ours["mel_l1"] == pytest.approx(expected["mel_l1"], rel=1e-5)
    assert ours["harmonic_contrast"] == pytest.approx(expected["harmonic_contrast"], rel=1e-5, nan_ok=True)


def run_burst(pack_dir: Path, init: Path, out: Path, *extra: str) -> list[dict]:
    args = burst_args(pack_dir, init, out, *extra)
    args.out.mkdir()
    Burst(args).run()
    return [json.loads(line) for line in (args.out / "log.jsonl").read_text().splitlines()]


def encoder_keys(state: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in state if k.startswith(("encoder.", "quant_conv."))]


def test_decoder_only_burst_learns_keeps_the_encoder_and_merges(full_pack, half_pipeline_dir, tmp_path):
    out = tmp_path / "out"
    log = run_burst(full_pack, full_pack / "init", out, "--max-steps", "40", "--disc-start", "20",
                    "--save-minutes", "0")  # an evaluation after every step
    assert log[0]["train_clips"] == 7 and log[0]["validation_clips"] == 2 and not log[0]["train_encoder"]
    steps = [r for r in log if "steps_per_second" in r]
    assert [r["step"] for r in steps] == list(range(5, 41, 5)) and "kl" not in steps[0]
    assert "adversarial" not in steps[3] and "adversarial" in steps[4] and "disc" in steps[-1]
    assert all(np.isfinite(r["mel_l1"]) for r in steps)  # the training L1 of random crops of 7 clips is too noisy
    evaluations = [r for r in log if "validation_mel_l1" in r]  # to show learning: the fixed validation crops do
    assert [r["step"] for r in evaluations] == list(range(41)) and evaluations[-1]["final"]  # 0, 1..40 (final)
    before_gan = [r["validation_mel_l1"] for r in evaluations[16:21]]  # the L1 falls before the discriminator joins
    assert np.mean(before_gan) < 0.8 * evaluations[0]["validation_mel_l1"]
    best = next(r for r in evaluations if r["step"] == log[-1]["best_step"])
    assert best["best"] and best["validation_mel_l1"] == min(r["validation_mel_l1"] for r in evaluations)
    assert best["step"] > 0 and best["validation_mel_l1"] < 0.9 * evaluations[0]["validation_mel_l1"]

    initial, saved, last = (vae_tensors(f) for f in (full_pack / "init" / "vae", out / "vae", out / "last"))
    for name in encoder_keys(initial):
        assert torch.equal(saved[name], initial[name]) and torch.equal(last[name], initial[name]), name
    decoder = [k for k in initial if k.startswith(("decoder.", "post_quant_conv."))]
    assert all(not torch.equal(saved[k], initial[k]) for k in decoder if k.endswith("weight"))
    assert any(not torch.equal(saved[k], last[k]) for k in decoder) or best["step"] == 40  # best kept, not last
    config = json.loads((out / "vae" / "config.json").read_text())
    assert config["scaling_factor"] == AutoencoderKL.load_config(half_pipeline_dir / "vae")["scaling_factor"]
    assert all(f.stat().st_size <= 16 * MIB for f in out.rglob("*") if f.is_file())

    merged_dir = tmp_path / "merged"
    merge(argparse.Namespace(weights=out, init=half_pipeline_dir, out=merged_dir, last=False, train_encoder=False,
                             max_shard_size="15MB"))
    merged, original = (AudioDiffusionPipeline.from_pretrained(d) for d in (merged_dir, half_pipeline_dir))
    assert all(torch.equal(value, saved[name]) for name, value in merged.vae.state_dict().items())
    for component in ("unet", "text_encoder", "vocoder", "mel"):
        theirs = getattr(original, component).state_dict()
        assert all(torch.equal(v, theirs[k]) for k, v in getattr(merged, component).state_dict().items()), component
    files = {f.relative_to(merged_dir) for f in merged_dir.rglob("*") if f.is_file()}
    originals = {f.relative_to(half_pipeline_dir) for f in half_pipeline_dir.rglob("*") if f.is_file()}
    differing = {f for f in files ^ originals if f.parts[0] != "vae"} | {
        f for f in files & originals if not filecmp.cmp(merged_dir / f, half_pipeline_dir / f, shallow=False)}
    assert differing == {Path("vae/diffusion_pytorch_model.safetensors"), Path("vae/config.json")}

    # a VAE whose encoder moved is refused in decoder-only mode, before anything is written
    changed = AutoencoderKL.from_pretrained(out / "vae")
    with torch.no_grad():
        changed.encoder.conv_in.weight.add_(0.01)
    changed.save_pretrained(tmp_path / "changed" / "vae")
    with pytest.raises(SystemExit, match="latent space"):
        merge(argparse.Namespace(weights=tmp_path / "changed", init=half_pipeline_dir, out=tmp_path / "refused",
                                 last=False, train_encoder=False, max_shard_size="15MB"))
    assert not (tmp_path / "refused").exists()


def test_whole_vae_burst_trains_the_encoder_with_kl_and_rescales_its_latents(full_pack, half_pipeline_dir, tmp_path):
    out = tmp_path / "out"
    log = run_burst(full_pack, full_pack / "init", out, "--train-encoder", "--max-steps", "10", "--disc-start", "-1",
                    "--kl-weight", "1e-4", "--config", str(Path(__file__).resolve().parents[2] / "recipes" / "opensfx"
                                                             / "configs" / "vae.yaml"))
    assert log[0]["train_encoder"] and log[0]["kl_weight"] == 1e-4
    steps = [r for r in log if "steps_per_second" in r]
    assert all("kl" in r and "adversarial" not in r for r in steps)
    initial, last = vae_tensors(full_pack / "init" / "vae"), vae_tensors(out / "last")
    assert all(not torch.equal(last[k], initial[k]) for k in encoder_keys(initial) if k.endswith("weight"))
    scaling_factor = json.loads((out / "last" / "config.json").read_text())["scaling_factor"]
    assert scaling_factor != AutoencoderKL.load_config(half_pipeline_dir / "vae")["scaling_factor"]
    mel = MelSpectrogram.from_pretrained(full_pack / "init" / "mel")  # the stage's rule: unit-variance latents
    segment = round(SEGMENT_SECONDS * SAMPLE_RATE)
    clips = AudioPack(full_pack, SAMPLE_RATE, segment, torch.device("cpu"), workers=2).validation
    stage = VAEStage(TrainConfig(segment_seconds=SEGMENT_SECONDS), Accelerator(cpu=True),
                     VaeParts(AutoencoderKL.from_pretrained(out / "last"), mel), validation_crops(clips, segment))
    assert scaling_factor == pytest.approx(stage.latent_scaling_factor(), rel=1e-5)

    def merge_last(target: Path, train_encoder: bool) -> None:
        merge(argparse.Namespace(weights=out, init=half_pipeline_dir, out=target, last=True,
                                 train_encoder=train_encoder, max_shard_size="15MB"))

    with pytest.raises(SystemExit, match="--train-encoder"):
        merge_last(tmp_path / "refused", train_encoder=False)
    merge_last(tmp_path / "merged", train_encoder=True)
    merged = AudioDiffusionPipeline.from_pretrained(tmp_path / "merged").vae
    assert merged.config.scaling_factor == scaling_factor
    assert all(torch.equal(value, last[name]) for name, value in merged.state_dict().items())
