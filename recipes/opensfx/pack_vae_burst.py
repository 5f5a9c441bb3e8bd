"""Pack training audio for a VAE GPU burst (issue 20, step 2), small enough to carry to a lent GPU machine.

The pack (:mod:`recipes.opensfx.audio_pack`, shared with the vocoder burst) holds a category-stratified subset
of the train split under ``--max-mib`` (everything in the pack folder counted; train clips weighted by
category, by default speech 12 and pitched sounds 3), the first ``--validation-clips`` clips of the validation
split in the dataset's order (the clips, and with the burst's start-of-clip crops the inputs, that ``audiodiff
train vae`` validates on, so the burst's validation mel L1 is the CPU runs'), and, with ``--init``, the VAE to
start from: its ``vae/`` (float32) and ``mel/``.  The reader is :mod:`recipes.opensfx.train_vae_burst`.

Without ``--init`` every byte goes to audio: the burst can start from a pipeline folder that the working tree
carries anyway (``--init checkpoints/default``); pack the init when it is a folder outside the tree (a CPU run's
export, an earlier burst's merge).

    python recipes/opensfx/pack_vae_burst.py --data ~/audiodiff-runs/data/opensfx --out .gpupack/vae
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from diffusers import AutoencoderKL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: recipes/ holds opensfx

from opensfx.audio_pack import WEIGHTS, PackClip, pack_parser, parse_weights, write_pack  # noqa: E402

from audiodiff.training.run import MAX_VALIDATION_CLIPS  # noqa: E402

MAX_SHARD_SIZE = "15MB"  # under the device's 16 MiB per returned file


def write_init(init: Path, out: Path) -> None:
    """``init``'s VAE as float32 into ``out/vae`` and its ``mel/`` into ``out/mel`` (what the burst reads of a
    pipeline folder)."""
    for name in ("vae", "mel"):
        if not (init / name).is_dir():
            raise SystemExit(f"--init {init} has no {name}/ folder; pass a pipeline folder (e.g. checkpoints/default).")
    vae = AutoencoderKL.from_pretrained(init / "vae", torch_dtype=torch.float32)
    vae.save_pretrained(out / "vae", max_shard_size=MAX_SHARD_SIZE, safe_serialization=True)
    shutil.copytree(init / "mel", out / "mel", dirs_exist_ok=True)


def pack(data: Path, out: Path, *, max_mib: float = 18.0, validation_clips: int = MAX_VALIDATION_CLIPS,
         init: Path | None = None, sample_rate: int = 16000, weights: tuple[tuple[str, float], ...] = WEIGHTS,
         validation_fraction: float = 0.03, seed: int = 0) -> dict:
    """Write ``meta.json``, ``train.bin``, ``validation.bin`` (and ``init/`` with ``init``) into ``out``, at most
    ``max_mib`` MiB together; returns the summary stored in ``meta.json``.  ``validation_fraction`` and ``seed``
    split a dataset without a ``split`` column as ``audiodiff train`` does with the same values."""

    def first_validation(clips: list[PackClip]) -> list[PackClip]:
        """The first ``validation_clips`` of the validation split, in the dataset's order (``audiodiff train``'s)."""
        return [c for c in clips if c.split == "validation"][:validation_clips]

    return write_pack(data, out, first_validation, write_init, init=init, max_mib=max_mib, sample_rate=sample_rate,
                      weights=weights, validation_fraction=validation_fraction, seed=seed)


def main() -> None:
    parser = pack_parser(__doc__, "pipeline folder whose vae/ and mel/ the burst starts from (packed as float32)",
                         validation_clips=MAX_VALIDATION_CLIPS)
    parser.add_argument("--validation-fraction", type=float, default=0.03,
                        help="for a dataset without a split column: the stage config's validation_fraction")
    args = parser.parse_args()
    summary = pack(args.data, args.out, max_mib=args.max_mib, validation_clips=args.validation_clips, init=args.init,
                   sample_rate=args.sample_rate, weights=parse_weights(args.weight),
                   validation_fraction=args.validation_fraction, seed=args.seed)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
