"""The measure of docs/finetuning.md: the share of a clip's energy in a frequency band (default 425-500 Hz,
around the telephone example's 440 + 480 Hz tones).

    python docs/examples/band_energy.py --wav ~/audiodiff-runs/phone/*.wav           # the training clips
    python docs/examples/band_energy.py --model checkpoints/default "an old telephone ringing" --seeds 0 1 2 3

With ``--model`` each prompt is generated once per seed (5 s, 25 steps, guidance 3, the model's scheduler,
``--dtype auto``), as ``audiodiff generate --seed S`` does, and each clip's share is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def band_energy_share(audio: np.ndarray, sample_rate: int, low: float = 425.0, high: float = 500.0) -> float:
    """Energy of ``audio`` ``(samples,)`` between ``low`` and ``high`` Hz over its total energy, in [0, 1]
    (power spectrum of the whole clip, Hann-windowed)."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size))) ** 2
    frequencies = np.fft.rfftfreq(audio.size, 1.0 / sample_rate)
    band = (frequencies >= low) & (frequencies <= high)
    return float(spectrum[band].sum() / max(spectrum.sum(), 1e-20))


def generated_clips(model: Path, prompts: list[str], seeds: list[int]) -> list[tuple[str, np.ndarray, int]]:
    """``(label, audio, sample_rate)`` of each prompt at each seed, generated as ``audiodiff generate`` does."""
    import torch

    from audiodiff.loading import load_pipeline

    pipe = load_pipeline(model, device="auto", dtype="auto")
    pipe.set_progress_bar_config(disable=True)
    clips = []
    for prompt in prompts:
        for seed in seeds:
            audio = pipe(prompt, duration=5.0, generator=torch.Generator().manual_seed(seed)).audios[0]
            clips.append((f"{prompt!r} seed {seed}", audio, pipe.sample_rate))
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts", nargs="*", help="prompts to generate (with --model)")
    parser.add_argument("--model", type=Path, help="pipeline folder to generate with")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="seeds per prompt (default: 0-3)")
    parser.add_argument("--wav", type=Path, nargs="*", default=[], help="WAV files to measure")
    parser.add_argument("--band", type=float, nargs=2, default=(425.0, 500.0), metavar=("LOW", "HIGH"),
                        help="band edges in Hz (default: 425 500)")
    args = parser.parse_args()
    import soundfile as sf

    clips = [(str(path), *sf.read(path, dtype="float32")) for path in args.wav]
    if args.model is not None:
        clips += generated_clips(args.model, args.prompts, args.seeds)
    shares = []
    for label, audio, sample_rate in clips:
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        shares.append(band_energy_share(mono, sample_rate, *args.band))
        print(f"{100 * shares[-1]:6.2f} %  {label}")
    if shares:
        print(f"{100 * np.mean(shares):6.2f} %  mean of {len(shares)} clips ({args.band[0]:g}-{args.band[1]:g} Hz)")


if __name__ == "__main__":
    main()
