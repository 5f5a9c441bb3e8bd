"""Pack training audio for a vocoder GPU burst, small enough to carry to a lent GPU machine (see TRAINING.md).

The pack (:mod:`recipes.opensfx.audio_pack`, shared with the VAE burst) holds a category-stratified subset of
the train split under ``--max-mib`` (everything in the pack folder counted), plus a few validation clips for the
in-burst evaluation and, with ``--init``, the generator to start from (its ``vocoder/`` and ``mel/`` folders).
Clips are stored encoded (the corpus' OGG bytes as they are, others as 16-bit FLAC); the reader is
:mod:`recipes.opensfx.train_vocoder_burst`.  Train clips are weighted by category (by default speech 12 and
pitched sounds 3: the issue's PESQ and CREPE periodicity targets).  Validation clips are drawn the same way with
equal weights (at least ``--min-validation-seconds`` each, as the evaluation's STFTs need).

    python recipes/opensfx/pack_vocoder_burst.py --data ~/audiodiff-runs/data/opensfx \
        --init ~/audiodiff-runs/vocos/model --out .gpupack/vocoder
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: recipes/ holds opensfx

from opensfx.audio_pack import (  # noqa: E402
    WEIGHTS,
    PackClip,
    pack_parser,
    parse_weights,
    stratified_selection,
    write_pack,
)


def copy_init(init: Path, out: Path) -> None:
    """Copy ``init``'s ``vocoder/`` and ``mel/`` (what the burst reads of a pipeline folder) to ``out``."""
    for name in ("vocoder", "mel"):
        if not (init / name).is_dir():
            raise SystemExit(f"--init {init} has no {name}/ folder; pass a pipeline folder with a Vocos or HiFi-GAN vocoder.")
        shutil.copytree(init / name, out / name, dirs_exist_ok=True)


def pack(data: Path, out: Path, *, max_mib: float = 18.0, validation_clips: int = 48, init: Path | None = None,
         sample_rate: int = 16000, weights: tuple[tuple[str, float], ...] = WEIGHTS,
         validation_fraction: float = 0.03, min_validation_seconds: float = 0.5, seed: int = 0) -> dict:
    """Write ``meta.json``, ``train.bin``, ``validation.bin`` (and ``init/`` with ``init``) into ``out``, at most
    ``max_mib`` MiB together; returns the summary stored in ``meta.json``."""

    def stratified_validation(clips: list[PackClip]) -> list[PackClip]:
        """``validation_clips`` validation clips of at least ``min_validation_seconds``, categories equally weighted."""
        long_enough = [c for c in clips if c.split == "validation" and c.seconds >= min_validation_seconds]
        return stratified_selection(long_enough, lambda clip: 1, validation_clips, lambda clip: 1.0, seed)

    return write_pack(data, out, stratified_validation, copy_init, init=init, max_mib=max_mib, sample_rate=sample_rate,
                      weights=weights, validation_fraction=validation_fraction, seed=seed)


def main() -> None:
    parser = pack_parser(__doc__, "pipeline folder whose vocoder/ and mel/ the burst starts from", validation_clips=48)
    parser.add_argument("--min-validation-seconds", type=float, default=0.5)
    args = parser.parse_args()
    summary = pack(args.data, args.out, max_mib=args.max_mib, validation_clips=args.validation_clips, init=args.init,
                   sample_rate=args.sample_rate, weights=parse_weights(args.weight),
                   min_validation_seconds=args.min_validation_seconds,
                   seed=args.seed)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
