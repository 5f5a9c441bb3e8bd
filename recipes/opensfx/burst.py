"""The command line shared by the GPU burst scripts (``train_diffusion_burst.py``, ``train_vocoder_burst.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch


def burst_main(train_parser: argparse.ArgumentParser, train: Callable[[argparse.Namespace], None],
               merge_parser: argparse.ArgumentParser, merge: Callable[[argparse.Namespace], None]) -> None:
    """``merge`` with ``merge_parser``'s arguments when the first argument is ``merge``; else ``train`` with
    ``train_parser``'s (``--out`` created; on a CUDA ``--device``, TF32 matmuls and cuDNN autotuning on)."""
    if len(sys.argv) > 1 and sys.argv[1] == "merge":
        merge(merge_parser.parse_args(sys.argv[2:]))
        return
    args = train_parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    train(args)
