"""The ``vocoder`` training stage: HiFi-GAN (Kong, Kim & Bae 2020) on log-mels of the user's audio.

Per step (paper sec. 2.3-2.4 and 4): take random segments of ``segment_frames * hop_length``
samples, compute their log-mel with the pipeline's front end, synthesise them with the
generator, update the discriminators (MPD + MSD, or MPD + MRD as Vocos) with the least-squares loss, then update
the generator with ``L_adv + feature_weight * L_fm + mel_weight * L_mel`` (sec. 2.4, weights 2 and 45).
Both optimisers are AdamW with ``TrainConfig.adam_betas`` (paper: 0.8, 0.99) and an
exponential LR decay of ``lr_decay`` per epoch, applied smoothly per step (see
:class:`VocoderStage`).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn

from ..errors import IncompatibleModelError
from ..evaluation.vocoder_metrics import (
    DEFAULT_RESOLUTIONS,
    multi_resolution_stft_distance,
)
from ..mel import MelSpectrogram
from ..model_folder import read_model_index
from ..models.discriminators import (
    FeatureMaps,
    Logits,
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
)
from ..models.vocoders import Vocoder, trainable_class
from ..pipeline import AudioDiffusionPipeline
from .checkpoint import publish_folder
from .common import export_pipeline, frame_mask, step_generator
from .config import TrainConfig, VocoderTrainConfig
from .losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss, mel_l1_loss
from .stage import TrainingStage
from .vocoder_validation import VocoderValidation

logger = logging.getLogger(__name__)


def build_discriminators(settings: VocoderTrainConfig) -> dict[str, nn.Module]:
    """The discriminators ``settings.discriminators`` names (``mpd``, ``msd``, ``mrd``) at their configured widths.

    Raises:
        ValueError: an unknown or repeated name, or none.
    """
    builders = {
        "mpd": lambda: MultiPeriodDiscriminator(channels=settings.mpd_channels),
        "msd": lambda: MultiScaleDiscriminator(channels=settings.msd_channels),
        "mrd": lambda: MultiResolutionDiscriminator(channels=settings.mrd_channels),
    }
    names = settings.discriminators
    if not names or len(set(names)) != len(names) or not set(names) <= set(builders):
        raise ValueError(
            f"vocoder.discriminators={list(names)}: name each of {sorted(builders)} at most once, at least one "
            "(HiFi-GAN: [mpd, msd]; Vocos: [mpd, mrd])."
        )
    return {name: builders[name]() for name in names}


def random_segments(
    audio: torch.Tensor, audio_mask: torch.Tensor, segment_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop one random segment per clip, inside the clip's valid (unpadded) samples where it is long enough.

    Args:
        audio: ``(batch, samples)`` waveform; padding, if any, at the end of each row.
        audio_mask: ``(batch, samples)``, 1 on real samples and 0 on padding.
        segment_length: samples per segment.
        generator: CPU random generator choosing the start offsets.

    Returns:
        ``(batch, segment_length)`` segments and their ``(batch, segment_length)`` mask; a clip shorter
        than a segment starts at 0 and is zero-padded (mask 0 there).
    """
    batch, samples = audio.shape
    if samples < segment_length:
        audio = nn.functional.pad(audio, (0, segment_length - samples))
        audio_mask = nn.functional.pad(audio_mask, (0, segment_length - samples))
    valid = audio_mask.sum(dim=1).long().cpu()
    max_start = (valid - segment_length).clamp(min=0)
    starts = (torch.rand(batch, generator=generator) * (max_start + 1)).long().clamp(max=max_start)
    index = (starts[:, None] + torch.arange(segment_length)).to(audio.device)
    return audio.gather(1, index), audio_mask.gather(1, index)


class VocoderStage(TrainingStage):
    """Train a vocoder of a trainable kind (:mod:`audiodiff.models.vocoders`: HiFi-GAN, Vocos) against
    HiFi-GAN-style discriminators.

    Args:
        config: the run's settings; ``config.vocoder`` holds ``mel_weight``, ``feature_weight``,
            ``lr_decay`` (per epoch) and ``segment_frames``; ``learning_rate``, ``adam_betas``,
            ``weight_decay`` and ``max_grad_norm`` apply to both optimisers.
        accelerator: the run's accelerator (device, mixed precision, processes).
        vocoder: the generator to train (fresh or pretrained).
        mel: the log-mel front end whose output the generator inverts.
        validation_audio: clips ``(samples,)`` at ``mel.config.sample_rate`` Hz for :meth:`evaluate`.
        pipeline: the pipeline ``vocoder`` and ``mel`` belong to, if any; :meth:`export` then writes the
            whole pipeline folder with the trained vocoder (what ``audiodiff train vocoder`` chains on).
        discriminators: name -> discriminator (each ``(batch, samples) -> (logits, feature maps)``); default: the
            paper's MPD and MSD (``{"mpd": ..., "msd": ...}``, about 41 M and 30 M parameters).  The names key
            the checkpoint's weights.
        steps_per_epoch: the "epoch" of the LR decay. The paper decays by ``lr_decay`` per epoch
            (LJSpeech: about 800 steps of 16 clips); the loop counts steps, so the scheduler steps
            every optimiser step with ``gamma = lr_decay ** (1 / steps_per_epoch)`` - the same
            curve, smooth, and independent of the dataset size.
        num_sample_wavs: validation clips written as WAV at each evaluation.
        griffin_lim_iters: iterations of the Griffin-Lim baseline in :meth:`evaluate`.

    Raises:
        IncompatibleModelError: the vocoder's ``n_mels``/``hop_length``/``sample_rate`` differ from ``mel``'s.
        ValueError: ``gradient_accumulation_steps != 1`` (a GAN step is not split), or a validation
            clip that is not 1-D or shorter than the largest STFT of the metrics.
    """

    name = "vocoder"
    best_metric = "mel_l1"

    def __init__(
        self,
        config: TrainConfig,
        accelerator: Accelerator,
        vocoder: Vocoder,
        mel: MelSpectrogram,
        validation_audio: list[torch.Tensor] | None = None,
        *,
        pipeline: AudioDiffusionPipeline | None = None,
        discriminators: dict[str, nn.Module] | None = None,
        steps_per_epoch: int = 1000,
        num_sample_wavs: int = 4,
        griffin_lim_iters: int = 32,
    ):
        super().__init__(config, accelerator)
        _check_compatible(vocoder, mel)
        if config.gradient_accumulation_steps != 1:
            raise ValueError(
                f"gradient_accumulation_steps={config.gradient_accumulation_steps}: the vocoder stage updates "
                "generator and discriminators every batch; set it to 1 and raise batch_size instead."
            )
        segment = config.vocoder.segment_frames * mel.config.hop_length
        shortest = max(n_fft for n_fft, _, _ in DEFAULT_RESOLUTIONS) // 2 + 1
        if config.vocoder.stft_weight > 0 and segment < shortest:
            raise ValueError(
                f"vocoder.segment_frames={config.vocoder.segment_frames} gives {segment}-sample segments, too short for "
                f"the STFT loss (at least {shortest} samples); raise segment_frames or set stft_weight: 0."
            )
        self.validation = VocoderValidation(mel, validation_audio, num_sample_wavs, griffin_lim_iters)
        self.pipeline = pipeline
        self.pipeline_dir: Path | None = None  # set by from_pipeline: export copies that folder
        self.generator = vocoder
        self.mel = mel.eval().requires_grad_(False)
        if discriminators is None:
            discriminators = {"mpd": MultiPeriodDiscriminator(), "msd": MultiScaleDiscriminator()}
        if not discriminators or "generator" in discriminators:
            raise ValueError(f"discriminators {sorted(discriminators)}: give at least one, none named 'generator'.")
        self.discriminators = dict(discriminators)
        betas = tuple(config.adam_betas)
        self.optimizer_g = torch.optim.AdamW(
            self.generator.parameters(), config.learning_rate, betas=betas, weight_decay=config.weight_decay
        )
        self.optimizer_d = torch.optim.AdamW(
            self._discriminator_parameters(),
            config.learning_rate,
            betas=betas,
            weight_decay=config.weight_decay,
        )
        gamma = config.vocoder.lr_decay ** (1.0 / steps_per_epoch)
        self.scheduler_g = torch.optim.lr_scheduler.ExponentialLR(self.optimizer_g, gamma)
        self.scheduler_d = torch.optim.lr_scheduler.ExponentialLR(self.optimizer_d, gamma)

    @classmethod
    def from_pipeline(
        cls,
        path: str | Path,
        config: TrainConfig,
        accelerator: Accelerator,
        validation_audio: list[torch.Tensor] | None = None,
        **kwargs: Any,
    ) -> "VocoderStage":
        """Continue training the vocoder of a pipeline folder (its ``vocoder/`` and ``mel/`` components;
        the text encoder is not loaded). :meth:`export` then writes a copy of the folder with the new vocoder.

        Raises:
            ModelNotFoundError, IncompatibleModelError: ``path`` is not a complete pipeline folder.
        """
        path = Path(path)
        vocoder = trainable_class(read_model_index(path)["vocoder"][1], str(path)).from_pretrained(path / "vocoder")
        mel = MelSpectrogram.from_pretrained(path / "mel")
        stage = cls(config, accelerator, vocoder, mel, validation_audio, **kwargs)
        stage.pipeline_dir = path
        return stage

    # ------------------------------------------------------------------ what the loop checkpoints
    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, **self.discriminators}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.optimizer_g, "discriminator": self.optimizer_d}

    def lr_schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"generator": self.scheduler_g, "discriminator": self.scheduler_d}

    def prepare(self) -> None:
        """Wrap models and optimisers; the schedulers stay unwrapped (one decay step per optimiser step,
        whatever the number of processes)."""
        names = list(self.discriminators)
        prepared = self.accelerator.prepare(
            self.generator, *self.discriminators.values(), self.optimizer_g, self.optimizer_d
        )
        self.generator, self.optimizer_g, self.optimizer_d = prepared[0], prepared[-2], prepared[-1]
        self.discriminators = dict(zip(names, prepared[1:-2]))
        self.mel.to(self.accelerator.device)

    # ------------------------------------------------------------------ training
    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        """One discriminator update then one generator update on random segments of ``batch["audio"]``.

        Returns:
            ``loss`` (generator total), ``loss_discriminator``, ``loss_adversarial``, ``loss_feature``,
            ``loss_mel`` (unweighted mel L1), ``loss_stft`` (when ``stft_weight > 0``) and ``lr``; detached
            scalars.  Before ``vocoder.adversarial_start`` only the reconstruction terms train the generator
            (the discriminators are not run) and the adversarial keys are absent.
        """
        real, real_mel, mask = self._segments(batch, step)
        with self.accelerator.autocast():
            fake = self.generator(real_mel)
        adversarial = step >= self.config.vocoder.adversarial_start
        if adversarial:
            loss_d = self._discriminator_step(real, fake.detach()).detach()
            losses = self._generator_step(real, fake, real_mel, mask)
        else:
            loss_d = torch.zeros(())
            losses = self._reconstruction_step(real, fake, real_mel, mask)
        lr = self.scheduler_g.get_last_lr()[0]
        self.scheduler_g.step()
        if adversarial:  # the discriminators' LR decays from the step they start training
            self.scheduler_d.step()
        return {**losses, "loss_discriminator": loss_d, "lr": torch.tensor(lr)}

    def _segments(self, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Real segments ``(batch, segment)``, their log-mel ``(batch, n_mels, frames)`` and frame mask."""
        hop_length = self.mel.config.hop_length
        audio = batch["audio"].to(self.accelerator.device, torch.float32)
        audio_mask = batch.get("audio_mask")
        audio_mask = torch.ones_like(audio) if audio_mask is None else audio_mask.to(audio.device)
        # Seeded by (seed, step, process) so a resumed run crops the same segments as an uninterrupted one.
        generator = step_generator(self.config.seed, step, self.accelerator.process_index)
        frames = self.config.vocoder.segment_frames
        real, sample_mask = random_segments(audio, audio_mask, frames * hop_length, generator)
        with torch.no_grad():
            real_mel = self.mel(real)
        return real, real_mel, frame_mask(sample_mask, hop_length, frames)

    def _discriminate(
        self, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[Logits, Logits, FeatureMaps, FeatureMaps]:
        """Run every discriminator once on ``[real; fake]``; returns (real logits, fake logits,
        real features, fake features), each a list over all sub-discriminators."""
        batch = real.shape[0]
        with self.accelerator.autocast():
            both = torch.cat([real, fake])
            outputs = [discriminator(both) for discriminator in self.discriminators.values()]
        logits = [x for disc_logits, _ in outputs for x in disc_logits]
        features = [maps for _, disc_features in outputs for maps in disc_features]
        return (
            [x[:batch] for x in logits],
            [x[batch:] for x in logits],
            [[m[:batch] for m in maps] for maps in features],
            [[m[batch:] for m in maps] for maps in features],
        )

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """LS discriminator update (eq. 1, summed over sub-discriminators) on detached generator output."""
        self.optimizer_d.zero_grad()
        real_logits, fake_logits, _, _ = self._discriminate(real, fake)
        loss = discriminator_loss(real_logits, fake_logits)
        self.accelerator.backward(loss)
        self._clip(self._discriminator_parameters())
        self.optimizer_d.step()
        return loss

    def _generator_step(
        self, real: torch.Tensor, fake: torch.Tensor, real_mel: torch.Tensor, mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Generator update, sec. 2.4 final loss: ``L_adv + feature_weight * L_fm + mel_weight * L_mel``."""
        weights = self.config.vocoder
        self.optimizer_g.zero_grad()
        _, fake_logits, real_features, fake_features = self._discriminate(real, fake)
        loss_adversarial = generator_adversarial_loss(fake_logits)
        loss_feature = feature_matching_loss(real_features, fake_features)
        reconstruction, parts = self._reconstruction_loss(real, fake, real_mel, mask)
        loss = loss_adversarial + weights.feature_weight * loss_feature + reconstruction
        self._generator_update(loss)
        return {
            "loss": loss.detach(),
            "loss_adversarial": loss_adversarial.detach(),
            "loss_feature": loss_feature.detach(),
            **parts,
        }

    def _reconstruction_step(
        self, real: torch.Tensor, fake: torch.Tensor, real_mel: torch.Tensor, mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Generator pre-training update before ``adversarial_start``: ``mel_weight * L_mel + stft_weight * L_stft``
        only, no discriminator (a GAN-free warm start, as Parallel WaveGAN's auxiliary loss; Yamamoto et al. 2020)."""
        self.optimizer_g.zero_grad()
        loss, parts = self._reconstruction_loss(real, fake, real_mel, mask)
        self._generator_update(loss)
        return {"loss": loss.detach(), **parts}

    def _reconstruction_loss(
        self, real: torch.Tensor, fake: torch.Tensor, real_mel: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``mel_weight * L_mel`` (HiFi-GAN eq. 3) ``+ stft_weight * L_stft`` (Parallel WaveGAN eq. 6, when > 0),
        in float32; returns the weighted sum and the unweighted terms."""
        weights = self.config.vocoder
        loss_mel = mel_l1_loss(self.mel(fake.float()), real_mel, mask)
        loss = weights.mel_weight * loss_mel
        parts = {"loss_mel": loss_mel.detach()}
        if weights.stft_weight > 0:
            loss_stft = multi_resolution_stft_distance(fake.float(), real)
            loss = loss + weights.stft_weight * loss_stft
            parts["loss_stft"] = loss_stft.detach()
        return loss, parts

    def _generator_update(self, loss: torch.Tensor) -> None:
        self.accelerator.backward(loss)
        self._clip(list(self.generator.parameters()))
        self.optimizer_g.step()

    def _discriminator_parameters(self) -> list[torch.Tensor]:
        return [p for discriminator in self.discriminators.values() for p in discriminator.parameters()]

    def _clip(self, parameters: list[torch.Tensor]) -> None:
        if self.config.max_grad_norm is not None:
            self.accelerator.clip_grad_norm_(parameters, self.config.max_grad_norm)

    # ------------------------------------------------------------------ evaluation and export
    @torch.no_grad()
    def evaluate(self, step: int, output_dir: Path) -> dict[str, float]:
        """Vocode each validation clip from its own log-mel and compare with the original.

        Writes, for the first ``num_sample_wavs`` clips, ``NN_vocoder.wav``, ``NN_original.wav`` and
        ``NN_griffin_lim.wav`` into ``output_dir`` (the loop passes ``samples/step-XXXXXXXX``).

        Returns:
            ``mel_l1`` (HiFi-GAN eq. 3, natural-log mel) and ``mrstft`` (Parallel WaveGAN eq. 6), averaged over
            clips, and the same for the Griffin-Lim baseline (``griffin_lim_mel_l1``, ``griffin_lim_mrstft``)
            and for the clips' own magnitudes with random phase (``random_phase_mel_l1``,
            ``random_phase_mrstft``; see :func:`~audiodiff.evaluation.vocoder_metrics.random_phase_resynthesis`).
            Empty without validation audio.
        """
        generator = self.accelerator.unwrap_model(self.generator)
        return self.validation.evaluate(generator, self.accelerator.device, output_dir)

    def export(self, directory: Path) -> None:
        """Write the trained generator.

        With ``pipeline`` (or after :meth:`from_pipeline`): a whole pipeline folder at ``directory`` with the
        new ``vocoder/``. Otherwise the vocoder component folder alone (see :meth:`save_vocoder`).
        """
        directory = Path(directory)
        generator = self.accelerator.unwrap_model(self.generator)
        if self.pipeline is not None:
            export_pipeline(self.pipeline, directory, self.config.max_shard_size, vocoder=generator)
        elif self.pipeline_dir is not None:
            if directory.resolve() != self.pipeline_dir.resolve():
                shutil.copytree(self.pipeline_dir, directory, dirs_exist_ok=True)
            self.export_to_pipeline(directory)
        else:
            self.save_vocoder(directory)

    def save_vocoder(self, directory: Path) -> None:
        """The generator as a diffusers component folder (``config.json`` + safetensors shards of at most
        ``config.max_shard_size``), loadable with its class's ``from_pretrained(directory)``."""
        self.accelerator.unwrap_model(self.generator).save_pretrained(
            directory,
            max_shard_size=self.config.max_shard_size,
            safe_serialization=True,
            is_main_process=self.accelerator.is_main_process,
        )

    def export_to_pipeline(self, pipeline_dir: str | Path) -> None:
        """Replace the ``vocoder/`` component of an existing pipeline folder with the trained generator
        (:func:`replace_vocoder`, on the main process).

        Raises:
            ModelNotFoundError, IncompatibleModelError: not a pipeline folder, or its mel front end
                differs from the one this vocoder was trained on.
        """
        if self.accelerator.is_main_process:
            replace_vocoder(pipeline_dir, self.accelerator.unwrap_model(self.generator), self.config.max_shard_size)


def replace_vocoder(pipeline_dir: str | Path, vocoder: Vocoder, max_shard_size: str) -> None:
    """Replace the ``vocoder/`` component of the pipeline folder ``pipeline_dir`` with ``vocoder`` (safetensors
    shards of at most ``max_shard_size``).

    The new folder is written beside the old one and swapped in by renames, so an interrupted
    replacement leaves the old vocoder in place.

    Raises:
        ModelNotFoundError, IncompatibleModelError: not a pipeline folder, or its mel front end
            differs from the one ``vocoder`` was built for.
    """
    pipeline_dir = Path(pipeline_dir)
    read_model_index(pipeline_dir)
    _check_compatible(vocoder, MelSpectrogram.from_pretrained(pipeline_dir / "mel"))
    staging = pipeline_dir / "vocoder.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    vocoder.save_pretrained(staging, max_shard_size=max_shard_size, safe_serialization=True)
    publish_folder(staging, pipeline_dir / "vocoder")


def _check_compatible(vocoder: Vocoder, mel: MelSpectrogram) -> None:
    ours = (vocoder.config.n_mels, vocoder.hop_length, vocoder.config.sample_rate)
    theirs = (mel.config.n_mels, mel.config.hop_length, mel.config.sample_rate)
    if ours != theirs:
        raise IncompatibleModelError(
            f"The vocoder's (n_mels, hop_length, sample_rate) {ours} differ from the mel front end's {theirs}; "
            "build the vocoder from the same AudioConfig as the mel front end."
        )
