"""The vocoder training stage with a tiny generator and tiny discriminators, driven by hand (no loop)."""

from __future__ import annotations

import json
import shutil

import pytest
import soundfile as sf
import torch
from accelerate import Accelerator
from tests.conftest import REPO, tone
from training_helpers import ToneDataset, tiny_train_config

from audiodiff import AudioDiffusionPipeline
from audiodiff.config import load_config
from audiodiff.errors import IncompatibleModelError
from audiodiff.mel import MelSpectrogram
from audiodiff.models.discriminators import (
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
)
from audiodiff.models.vocoder import HifiGanVocoder
from audiodiff.models.vocos import VocosVocoder
from audiodiff.training.config import TrainConfig, VocoderTrainConfig
from audiodiff.training.loop import run_training
from audiodiff.training.vocoder import VocoderStage, build_discriminators, random_segments

HOP = 64


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run fastest on one thread, and stay fast on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_mel() -> MelSpectrogram:
    return MelSpectrogram(n_fft=256, win_length=256, hop_length=HOP, n_mels=16)


def tiny_vocoder() -> HifiGanVocoder:
    return HifiGanVocoder(
        n_mels=16, upsample_rates=(4, 4, 4), upsample_kernel_sizes=(8, 8, 8), upsample_initial_channel=16,
        resblock="2", resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1, 3),),
    )  # fmt: skip


def tiny_discriminators() -> dict[str, torch.nn.Module]:
    return {"mpd": MultiPeriodDiscriminator(channels=1), "msd": MultiScaleDiscriminator(channels=2)}


def tiny_stage(
    config: TrainConfig, validation: list[torch.Tensor] | None = None, vocoder: torch.nn.Module | None = None, **kwargs
) -> VocoderStage:
    torch.manual_seed(0)
    vocoder = vocoder or tiny_vocoder()  # built first: the seed's draws give the generator the same weights as ever
    kwargs.setdefault("discriminators", tiny_discriminators())
    stage = VocoderStage(
        config, Accelerator(cpu=True), vocoder, tiny_mel(), validation, griffin_lim_iters=4,
        **kwargs,
    )  # fmt: skip
    stage.prepare()
    return stage


def tone_batch(seconds: float = 0.5) -> dict[str, torch.Tensor]:
    audio = torch.from_numpy(tone(440.0, seconds))[None]
    return {"audio": audio, "audio_mask": torch.ones_like(audio), "caption": ["a tone"]}


def test_overfits_one_tone_and_writes_samples(tmp_path):
    """80 steps of 8-frame segments; over seeds 0-4 the final/initial mel L1 ratio was 0.39-0.51."""
    config = TrainConfig(learning_rate=1e-3, adam_betas=(0.8, 0.99), vocoder=VocoderTrainConfig(segment_frames=8))
    batch = tone_batch()
    stage = tiny_stage(config, [batch["audio"][0]])
    before = stage.evaluate(0, tmp_path)
    for step in range(80):
        losses = stage.train_step(batch, step)
        assert all(torch.isfinite(value) for value in losses.values())
    after = stage.evaluate(80, tmp_path)

    assert after["mel_l1"] < 0.7 * before["mel_l1"], (before, after)
    assert set(after) == {"mel_l1", "mrstft", "griffin_lim_mel_l1", "griffin_lim_mrstft",
                          "random_phase_mel_l1", "random_phase_mrstft"}
    assert after["random_phase_mel_l1"] == before["random_phase_mel_l1"]
    assert after["griffin_lim_mel_l1"] == before["griffin_lim_mel_l1"]  # the baseline is computed once
    written = sf.read(tmp_path / "00_vocoder.wav")[0]
    assert written.shape == (8000,) and (tmp_path / "00_griffin_lim.wav").is_file()
    assert (tmp_path / "00_original.wav").is_file()


def test_lr_decays_by_lr_decay_per_epoch_and_checkpointed_parts():
    config = TrainConfig(learning_rate=1e-3, vocoder=VocoderTrainConfig(lr_decay=0.5, segment_frames=8))
    stage = tiny_stage(config, steps_per_epoch=2)
    assert set(stage.modules()) == {"generator", "mpd", "msd"}
    assert set(stage.optimizers()) == set(stage.lr_schedulers()) == {"generator", "discriminator"}
    losses = [stage.train_step(tone_batch(0.2), step) for step in range(2)]
    assert losses[0]["lr"].item() == pytest.approx(1e-3) and losses[1]["lr"].item() == pytest.approx(1e-3 * 0.5**0.5)
    for optimizer in stage.optimizers().values():
        assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)
        assert optimizer.param_groups[0]["betas"] == config.adam_betas


def test_segments_are_deterministic_per_step():
    stage = tiny_stage(TrainConfig(vocoder=VocoderTrainConfig(segment_frames=8)))
    batch = {"audio": torch.randn(3, 4000), "audio_mask": torch.ones(3, 4000)}
    first, again, other = stage._segments(batch, 5)[0], stage._segments(batch, 5)[0], stage._segments(batch, 6)[0]
    assert first.shape == (3, 8 * HOP)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_random_segments_stay_inside_valid_samples_and_pad_short_clips():
    audio = torch.arange(2 * 1000, dtype=torch.float32).view(2, 1000)
    mask = torch.ones(2, 1000)
    mask[0, 300:] = 0  # clip 0 has 300 real samples, then padding
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        segments, segment_mask = random_segments(audio, mask, 200, generator)
        assert segments[0, -1] < 300 and segment_mask.all()
    segments, segment_mask = random_segments(audio, mask, 1200, generator)  # longer than the clips
    assert segments.shape == (2, 1200) and segment_mask[0].sum() == 300 and segment_mask[1].sum() == 1000
    assert (segments[:, 1000:] == 0).all()  # zero-padded past the batch length


def test_export_reloads_identically(tmp_path):
    stage = tiny_stage(TrainConfig(vocoder=VocoderTrainConfig(segment_frames=8)))
    stage.train_step(tone_batch(0.2), 0)
    stage.export(tmp_path / "vocoder")
    reloaded = HifiGanVocoder.from_pretrained(tmp_path / "vocoder").eval()
    generator = stage.accelerator.unwrap_model(stage.generator).eval()
    mel = torch.randn(1, 16, 10) - 5
    with torch.no_grad():
        assert torch.equal(reloaded(mel), generator(mel))


def test_from_pipeline_exports_a_loadable_pipeline_with_the_new_vocoder(tmp_path, tiny_pipeline_dir):
    config = TrainConfig(vocoder=VocoderTrainConfig(segment_frames=8))
    stage = VocoderStage.from_pipeline(
        tiny_pipeline_dir, config, Accelerator(cpu=True), discriminators=tiny_discriminators()
    )
    stage.prepare()
    stage.train_step({"audio": torch.from_numpy(tone(330.0, 0.2))[None]}, 0)  # audio_mask is optional
    stage.export(tmp_path / "model")
    exported = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    assert not (tmp_path / "model" / "vocoder.tmp").exists() and not (tmp_path / "model" / "vocoder.old").exists()
    original = HifiGanVocoder.from_pretrained(tiny_pipeline_dir / "vocoder").eval()
    mel = torch.randn(1, 64, 4) - 5
    with torch.no_grad():
        assert not torch.equal(exported.vocoder(mel), original(mel))
        assert torch.equal(exported.vocoder(mel), stage.generator.eval()(mel))


def _run_loop(pipeline_dir, output_dir, max_steps, resume=False):
    """The real training loop on four tones; returns the trained generator's weights."""
    pipeline = AudioDiffusionPipeline.from_pretrained(pipeline_dir)
    config = tiny_train_config(
        max_steps=max_steps, batch_size=2, learning_rate=1e-3, checkpoint_every=2, eval_every=4,
        vocoder=VocoderTrainConfig(segment_frames=8),
    )  # fmt: skip
    validation = [ToneDataset(1, seconds=0.2)[0]["audio"]]

    def factory(accelerator):
        torch.manual_seed(0)  # the discriminators' initial weights
        return VocoderStage(
            config, accelerator, pipeline.vocoder, pipeline.mel, validation, pipeline=pipeline,
            discriminators=tiny_discriminators(), griffin_lim_iters=4,
        )  # fmt: skip

    run_training(factory, ToneDataset(4), config, output_dir, resume=resume)
    return {name: value.clone() for name, value in pipeline.vocoder.state_dict().items()}


def test_through_the_loop_metrics_samples_export_and_exact_resume(tiny_pipeline_dir, tmp_path):
    straight = _run_loop(tiny_pipeline_dir, tmp_path / "straight", 4)
    metrics = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 4 and metrics[-1]["mel_l1"] > 0 and metrics[-1]["griffin_lim_mrstft"] > 0
    assert (tmp_path / "straight" / "samples" / "step-00000004" / "00_vocoder.wav").is_file()
    exported = AudioDiffusionPipeline.from_pretrained(tmp_path / "straight" / "model")
    for name, value in straight.items():
        assert torch.equal(exported.vocoder.state_dict()[name], value), name

    _run_loop(tiny_pipeline_dir, tmp_path / "interrupted", 2)  # "killed" after the step-2 checkpoint
    resumed = _run_loop(tiny_pipeline_dir, tmp_path / "interrupted", 4, resume=True)
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name


def test_rejects_mismatched_mel_accumulation_and_short_validation_clips():
    config = TrainConfig()
    with pytest.raises(IncompatibleModelError, match="n_mels"):
        VocoderStage(config, Accelerator(cpu=True), tiny_vocoder(), MelSpectrogram())
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        VocoderStage(TrainConfig(gradient_accumulation_steps=2), Accelerator(cpu=True), tiny_vocoder(), tiny_mel())
    with pytest.raises(ValueError, match="Validation clip 0"):
        VocoderStage(config, Accelerator(cpu=True), tiny_vocoder(), tiny_mel(), [torch.zeros(100)])


def test_shipped_config_is_the_paper_recipe():
    config = load_config(REPO / "configs" / "train" / "vocoder.yaml", TrainConfig)
    assert config.adam_betas == (0.8, 0.99) and config.learning_rate == 2e-4 and config.batch_size == 16
    assert (config.vocoder.mel_weight, config.vocoder.feature_weight) == (45.0, 2.0)
    assert config.gradient_accumulation_steps == 1


def test_generator_pretraining_leaves_discriminators_alone_then_the_gan_starts():
    """Before ``adversarial_start`` only mel L1 + MR-STFT train the generator; from it on, the discriminators too."""
    config = TrainConfig(learning_rate=1e-3, adam_betas=(0.8, 0.99),
                         vocoder=VocoderTrainConfig(segment_frames=20, adversarial_start=30, stft_weight=1.0))
    stage = tiny_stage(config)
    batch = tone_batch()
    discriminators = {k: v.clone() for k, v in stage.discriminators["mpd"].state_dict().items()}
    first = stage.train_step(batch, 0)
    for step in range(1, 30):
        last = stage.train_step(batch, step)
    assert set(first) == {"loss", "loss_mel", "loss_stft", "loss_discriminator", "lr"}
    assert last["loss_mel"] < 0.8 * first["loss_mel"] and last["loss_stft"] < first["loss_stft"]
    assert all(torch.equal(v, stage.discriminators["mpd"].state_dict()[k]) for k, v in discriminators.items())
    adversarial = stage.train_step(batch, 30)
    assert {"loss_adversarial", "loss_feature", "loss_stft"} <= set(adversarial)
    assert adversarial["loss_discriminator"] > 0
    assert any(not torch.equal(v, stage.discriminators["mpd"].state_dict()[k]) for k, v in discriminators.items())
    with pytest.raises(ValueError, match="too short for the STFT loss"):
        tiny_stage(TrainConfig(vocoder=VocoderTrainConfig(segment_frames=8, stft_weight=1.0)))


def tiny_vocos() -> VocosVocoder:
    return VocosVocoder(n_mels=16, hop_length=HOP, n_fft=256, dim=32, intermediate_dim=64, num_layers=2)


def test_vocos_with_mpd_and_mrd_overfits_one_tone(tmp_path):
    """The Vocos generator against MPD + MRD (Vocos' recipe), adversarial from the first step; 60 steps."""
    config = TrainConfig(learning_rate=1e-3, adam_betas=(0.8, 0.99), vocoder=VocoderTrainConfig(segment_frames=16))
    batch = tone_batch()
    discriminators = {
        "mpd": MultiPeriodDiscriminator(channels=1),
        "mrd": MultiResolutionDiscriminator(((256, 32, 128), (128, 16, 64)), channels=2),
    }
    stage = tiny_stage(config, [batch["audio"][0]], vocoder=tiny_vocos(), discriminators=discriminators)
    assert set(stage.modules()) == {"generator", "mpd", "mrd"}
    before = stage.evaluate(0, tmp_path)
    for step in range(60):
        losses = stage.train_step(batch, step)
        assert all(torch.isfinite(value) for value in losses.values())
    assert {"loss_adversarial", "loss_feature"} <= set(losses)
    after = stage.evaluate(60, tmp_path)
    assert after["mel_l1"] < 0.7 * before["mel_l1"], (before, after)
    stage.export(tmp_path / "vocoder")
    reloaded = VocosVocoder.from_pretrained(tmp_path / "vocoder").eval()
    mel = torch.randn(1, 16, 10) - 5
    with torch.no_grad():
        assert torch.equal(reloaded(mel), stage.accelerator.unwrap_model(stage.generator).eval()(mel))


def test_build_discriminators_names_and_widths():
    settings = VocoderTrainConfig(discriminators=("mpd", "mrd"), mpd_channels=1, mrd_channels=2)
    built = build_discriminators(settings)
    assert list(built) == ["mpd", "mrd"] and isinstance(built["mrd"], MultiResolutionDiscriminator)
    assert built["mrd"].discriminators[0].convs[1].out_channels == 2
    for names in [(), ("mpd", "mpd"), ("mpd", "gan")]:
        with pytest.raises(ValueError, match="vocoder.discriminators"):
            build_discriminators(VocoderTrainConfig(discriminators=names))
