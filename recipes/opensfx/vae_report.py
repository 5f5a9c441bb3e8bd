"""Validation mel L1 of a pipeline's VAE against two baselines, on the corpus' validation clips.

    python recipes/opensfx/vae_report.py --model checkpoints/default --data data/opensfx [--out report.json]

The figures (mel L1 of the VAE and of two baselines, their harmonic contrast) are
:func:`audiodiff.evaluation.vae_report.vae_report`'s, over the corpus' validation clips.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from audiodiff import AudioDiffusionPipeline
from audiodiff.data import read_dataset
from audiodiff.evaluation.vae_report import vae_report

log = logging.getLogger("opensfx.vae_report")


def report(model: Path, data: Path, limit: int | None = None) -> dict[str, float]:
    """:func:`audiodiff.evaluation.vae_report.vae_report` of the pipeline at ``model`` over the validation clips of
    the corpus at ``data`` (at most ``limit``)."""
    pipe = AudioDiffusionPipeline.from_pretrained(model, text_encoder=None, tokenizer=None)
    clips = [clip for clip in read_dataset(data) if clip.split == "validation"][:limit]
    return vae_report(pipe, clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("data/opensfx"))
    parser.add_argument("--limit", type=int, default=None, help="at most this many validation clips")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    figures = report(args.model, args.data, args.limit)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
