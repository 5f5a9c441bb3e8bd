"""Train the vocoder for a fixed wall-clock budget on one GPU, from a pack of training audio (issue 19).

For a short lease of a GPU machine (the device tool: ~10 minutes a call, 64 MiB carried, no audiodiff
install; diffusers, librosa and soundfile travel as wheels: ../shared/tools/device_wheels.sh).  Reads the pack
of :mod:`recipes.opensfx.pack_vocoder_burst`, decodes every clip once into GPU memory and trains the generator
of ``--init`` (a VocosVocoder or HifiGanVocoder ``vocoder/`` beside its ``mel/``) with
:meth:`audiodiff.training.vocoder.VocoderStage.train_step` itself: the same losses, discriminators and
optimisers as ``audiodiff train vocoder``, at a GPU batch, with the discriminators at the papers' widths
(MPD 32, MRD 32, MSD 128) unless told otherwise, through :func:`audiodiff.training.loop.run_training` with a
minutes budget.  Windows of ``segment_frames * hop_length`` samples are drawn uniformly over every start position
in the pack (:class:`~recipes.opensfx.audio_pack.PackWindows`), so each category weighs what the pack gave it in
seconds.

At the start, every ``--save-minutes`` and at the end it runs :meth:`VocoderStage.evaluate` on the pack's
validation clips (mel L1 and MR-STFT, beside Griffin-Lim's).  At the end it writes the last generator into
``--out``/vocoder (a diffusers component folder, shards of at most 15 MB: the device returns files of at most
16 MiB), the discriminators into ``discriminators.safetensors`` when that file stays under 16 MiB (narrow widths
only), and ``log.jsonl``.  ``merge`` puts the generator back into a pipeline folder on the CPU side:

    python3 recipes/opensfx/train_vocoder_burst.py --pack .gpupack/vocoder --init .gpupack/vocoder/init \
        --out $OUT/vocoder --minutes 8 --device cuda
    python recipes/opensfx/train_vocoder_burst.py merge --weights OUTDIR --init PIPELINE --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: recipes/ holds opensfx

from opensfx.audio_pack import AudioPack, PackWindows  # noqa: E402
from opensfx.burst import (  # noqa: E402
    MAX_SHARD_SIZE,
    JsonLog,
    audio_burst_parser,
    burst_config,
    burst_main,
    merge_parser,
    run_burst,
    run_folder,
)

from audiodiff.config import load_config  # noqa: E402
from audiodiff.mel import MelSpectrogram  # noqa: E402
from audiodiff.training.checkpoint import latest_checkpoint, publish_folder  # noqa: E402
from audiodiff.training.config import TrainConfig  # noqa: E402
from audiodiff.models.vocoders import VOCODER_KINDS, Vocoder, kind_of_class  # noqa: E402
from audiodiff.training.loop import MODEL_SUBDIR, make_accelerator  # noqa: E402
from audiodiff.training.vocoder import VocoderStage, build_discriminators, replace_vocoder  # noqa: E402

log = logging.getLogger("train_vocoder_burst")
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "vocos.yaml"
MAX_FILE_BYTES = 16 * 2**20


def load_generator(folder: Path) -> Vocoder:
    """The VocosVocoder or HifiGanVocoder saved in the component folder ``folder``, in float32."""
    config_file = folder / "config.json"
    kind = json.loads(config_file.read_text()).get("_class_name") if config_file.is_file() else None
    trainable = sorted(k.class_name for k in VOCODER_KINDS.values() if k.trainable)
    if kind not in trainable:
        raise SystemExit(f"{folder} holds no trainable vocoder ({kind}); expected one of {trainable}.")
    return kind_of_class(kind).load_class().from_pretrained(folder, torch_dtype=torch.float32)


def load_discriminators(discriminators: dict[str, nn.Module], path: Path) -> None:
    """Load each discriminator from ``path``: a burst's ``discriminators.safetensors`` or the ``modules.safetensors``
    of an ``audiodiff train vocoder`` checkpoint (both key weights as ``NAME.parameter``)."""
    state = load_file(str(path))
    for name, module in discriminators.items():
        weights = {key[len(name) + 1:]: value.float() for key, value in state.items() if key.startswith(f"{name}.")}
        try:
            module.load_state_dict(weights)
        except RuntimeError as error:
            raise SystemExit(f"{path} does not fit discriminator {name!r} at the widths asked for (--{name}-channels): "
                             f"{str(error).splitlines()[0]} ...") from error


def train_config(args: argparse.Namespace) -> TrainConfig:
    """``--config`` with the burst's batch, learning rate, precision, segment, GAN start and discriminators."""
    config = load_config(args.config, TrainConfig)
    settings = config.vocoder
    vocoder = replace(
        settings,
        segment_frames=args.segment_frames or settings.segment_frames,
        adversarial_start=settings.adversarial_start if args.adversarial_start is None else args.adversarial_start,
        discriminators=tuple(args.discriminators or settings.discriminators),
        mpd_channels=args.mpd_channels, msd_channels=args.msd_channels, mrd_channels=args.mrd_channels,
    )
    return replace(config, batch_size=args.batch_size, learning_rate=args.lr or config.learning_rate,
                   mixed_precision=args.mixed_precision, seed=args.seed, vocoder=vocoder)


class Burst:
    """The burst: generator from ``args.init``, audio from ``args.pack``, weights and ``log.jsonl`` into ``args.out``."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.config = burst_config(train_config(args), args)
        self.accelerator = make_accelerator(self.config, run_folder(args), cpu=args.device == "cpu")
        mel = MelSpectrogram.from_pretrained(args.init / "mel")
        discriminators = build_discriminators(self.config.vocoder)
        if args.discriminators_from is not None:
            load_discriminators(discriminators, args.discriminators_from)
        window = self.config.vocoder.segment_frames * mel.config.hop_length
        self.pack = AudioPack(args.pack, mel.config.sample_rate, window, self.accelerator.device, args.workers)
        self.stage = VocoderStage(self.config, self.accelerator, load_generator(args.init / "vocoder"), mel,
                                  self.pack.validation, discriminators=discriminators,
                                  steps_per_epoch=self.config.vocoder.lr_decay_steps, num_sample_wavs=args.sample_wavs)
        self.log = JsonLog(args.out / "log.jsonl", log)

    def collect(self, run_dir: Path) -> None:
        """The run's last generator as ``vocoder/`` (float16 with ``--half``) and, when under 16 MiB, the
        discriminators of its last checkpoint as ``discriminators.safetensors``."""
        generator = load_generator(run_dir / MODEL_SUBDIR)
        staging = self.args.out / "vocoder.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        (generator.half() if self.args.half else generator).save_pretrained(
            staging, max_shard_size=MAX_SHARD_SIZE, safe_serialization=True)
        publish_folder(staging, self.args.out / "vocoder")
        checkpoint = latest_checkpoint(run_dir)
        dtype = torch.float16 if self.args.half else torch.float32
        state = {key: value.to(dtype).contiguous()
                 for key, value in load_file(str(checkpoint / "modules.safetensors")).items()
                 if key.split(".", 1)[0] in self.stage.discriminators}
        size = sum(v.numel() * v.element_size() for v in state.values())
        if size < MAX_FILE_BYTES - 2**20:
            temporary = self.args.out / ".discriminators.tmp"
            save_file(state, str(temporary), metadata={"step": checkpoint.name.split("-")[-1].lstrip("0") or "0"})
            temporary.replace(self.args.out / "discriminators.safetensors")

    def run(self) -> None:
        args = self.args
        header = {"train_clips": self.pack.clips, "train_seconds": round(self.pack.seconds, 1),
                  "validation_clips": len(self.pack.validation), "batch_size": args.batch_size,
                  "segment_samples": self.pack.window, "discriminators": list(self.stage.discriminators),
                  "widths": [args.mpd_channels, args.msd_channels, args.mrd_channels],
                  "adversarial_start": self.config.vocoder.adversarial_start,
                  "device": str(self.accelerator.device), "mixed_precision": args.mixed_precision}
        run_burst(args, self.config, self.accelerator, lambda accelerator: self.stage,
                  PackWindows(self.pack, args.seed), header, self.collect, self.log, metric="mel_l1")


def merge(args: argparse.Namespace) -> None:
    """The burst's ``vocoder/`` (float32 again) into a copy of the pipeline folder ``args.init`` at ``args.out``."""
    vocoder = load_generator(args.weights / "vocoder")
    if args.out.resolve() != args.init.resolve():
        shutil.copytree(args.init, args.out, dirs_exist_ok=True)
    replace_vocoder(args.out, vocoder, args.max_shard_size)
    log.info("wrote %s with the vocoder of %s", args.out, args.weights)


def build_parser() -> argparse.ArgumentParser:
    """The training command's arguments."""
    parser = audio_burst_parser(__doc__, "folder of pack_vocoder_burst.py",
                                "folder with the generator's vocoder/ and mel/", DEFAULT_CONFIG, save_minutes=2.0,
                                log_every=100)
    parser.add_argument("--segment-frames", type=int, default=64, help="mel frames per window (0: config's)")
    parser.add_argument("--adversarial-start", type=int, default=None,
                        help="generator-only steps before the GAN terms (default: the config's; 0 after pre-training)")
    parser.add_argument("--discriminators", nargs="+", default=None, help="default: the config's (Vocos: mpd mrd)")
    parser.add_argument("--mpd-channels", type=int, default=32, help="HiFi-GAN's width: 32")
    parser.add_argument("--msd-channels", type=int, default=128, help="HiFi-GAN's width: 128")
    parser.add_argument("--mrd-channels", type=int, default=32, help="UnivNet's width: 32")
    parser.add_argument("--discriminators-from", type=Path, default=None,
                        help="discriminators.safetensors of a burst, or modules.safetensors of a CPU checkpoint")
    parser.add_argument("--half", action="store_true", help="write float16 weights (HiFi-GAN V1 needs it)")
    parser.add_argument("--sample-wavs", type=int, default=0, help="validation clips written as WAV at each evaluation")
    return parser


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    merging = merge_parser("Put a burst's generator into a pipeline folder.", MAX_SHARD_SIZE)
    burst_main(build_parser(), lambda args: Burst(args).run(), merging, merge)


if __name__ == "__main__":
    main()
