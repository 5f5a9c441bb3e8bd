"""Train the judge (a log-mel category classifier) on the opensfx train split and calibrate it on validation.

    python recipes/opensfx/train_judge.py --data data/opensfx --out recipes/opensfx/judge --epochs 6 --seed 0

Writes OUT/model.safetensors (fp16) and OUT/judge.json (categories, settings, training report and
the validation ceiling/floor); see judge.py and README.md ("The judge").
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from audiodiff.config import load_config  # noqa: E402
from opensfx.judge import JudgeConfig, JudgeError, calibrate_on_validation, save_judge, train_judge  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_CONFIG = REPO / "configs" / "model" / "default.yaml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults of the training settings are :class:`JudgeConfig`'s."""
    defaults = JudgeConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="corpus folder with metadata.jsonl and clips/")
    parser.add_argument("--out", type=Path, required=True, help="judge folder to write")
    parser.add_argument("--model-config", type=Path, default=DEFAULT_MODEL_CONFIG,
                        help="model YAML whose audio: section sets the mel front end (default: the default model's)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--crop-seconds", type=float, default=defaults.crop_seconds)
    parser.add_argument("--min-train-clips", type=int, default=defaults.min_train_clips)
    parser.add_argument("--channels", type=int, nargs="+", default=list(defaults.channels))
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this many wall minutes")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "min_train_clips", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.crop_seconds <= 0 or args.learning_rate <= 0:
        parser.error("--crop-seconds and --learning-rate must be > 0")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train, calibrate, save and print the ceiling/floor."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    config = JudgeConfig(
        channels=tuple(args.channels), crop_seconds=args.crop_seconds, batch_size=args.batch_size, epochs=args.epochs,
        learning_rate=args.learning_rate, min_train_clips=args.min_train_clips, seed=args.seed,
    )
    try:
        audio = load_config(args.model_config).audio
        started = time.process_time()
        judge, report = train_judge(args.data, audio, config, max_minutes=args.max_minutes)
        report["train_cpu_seconds"] = round(time.process_time() - started, 1)
        validation = calibrate_on_validation(judge, args.data)
    except JudgeError as error:
        sys.exit(f"error: {error}")
    save_judge(judge, args.out, extra={"training": report, "validation": validation, "data": str(args.data)})
    print(json.dumps({"out": str(args.out), "validation": validation, "training": report}, indent=2))


if __name__ == "__main__":
    main()
