"""The ``audiodiff`` command line: parsing and calling the Python API, nothing more."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .dependencies import check_compiled_dependencies
from .edit_modes import EDIT_MODES, EditMode
from .errors import AudiodiffError
from .sampling import add_sampling_arguments, options_from_args, sampling_values

log = logging.getLogger("audiodiff")

COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {}


def command(name: str) -> Callable[[Callable[[argparse._SubParsersAction], None]], Callable[[argparse._SubParsersAction], None]]:
    """Register a function that adds sub-command ``name`` (or a group of them, e.g. the edit modes) to the parser."""

    def register(add: Callable[[argparse._SubParsersAction], None]) -> Callable[[argparse._SubParsersAction], None]:
        COMMANDS[name] = add
        return add

    return register


# ---------------------------------------------------------------------- generate
@command("generate")
def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate audio from text prompts and write WAV files",
        description="Generate audio from text prompts. Writes 16-bit PCM WAV files and prints each path.",
    )
    p.add_argument("prompts", nargs="*", metavar="PROMPT", help='text prompt(s), e.g. "a dog barking"')
    p.add_argument("--prompts-file", type=Path, help="a text file with one prompt per line (for batch jobs)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="a .wav path for one clip, or a folder for several (default: ./audiodiff_outputs)")
    add_sampling_arguments(p, helps={"seed": "random seed; clip k of each prompt uses seed + k, so a prompt gives "
                                             "the same audio alone or in a batch (default: 0)"})
    p.add_argument("--batch-size", type=int, default=None,
                   help="clips denoised together (default: all); each batch is written when done")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave clips whose WAV already exists: resumes a killed batch job with the same seeds per clip")
    p.set_defaults(run=_run_generate)


def _run_generate(args: argparse.Namespace) -> None:
    from .generate import GenerateJob, read_prompts_file, run_generate

    prompts = list(args.prompts) + (read_prompts_file(args.prompts_file) if args.prompts_file is not None else [])
    job = GenerateJob(prompts=prompts, output=args.output, batch_size=args.batch_size,
                      skip_existing=args.skip_existing, **sampling_values(options_from_args(args)))
    for path in run_generate(job):
        print(path)


# ---------------------------------------------------------------------- edit modes (audiodiff.edit_modes)
def _add_edit_command(sub: argparse._SubParsersAction, mode: EditMode) -> None:
    p = sub.add_parser(mode.name, help=mode.help,
                       description=mode.description + " Writes one 16-bit PCM WAV, prints its path.")
    p.add_argument("input", type=Path, metavar="IN", help="input audio (WAV, FLAC, OGG, MP3...; resampled, mono-mixed)")
    p.add_argument("prompt", metavar="PROMPT", help='what the result should sound like, e.g. "a cat meowing"')
    p.add_argument("-o", "--output", type=Path, default=None, help=f"output .wav (default: IN-STEM_{mode.name}.wav)")
    for option in mode.options:
        p.add_argument(option.flag, type=float, default=option.default, help=option.help)
    add_sampling_arguments(p, edit=True)
    p.set_defaults(run=_run_edit, mode=mode.name)


@command("edit modes")
def _add_edit_commands(sub: argparse._SubParsersAction) -> None:
    """One sub-command per entry of the edit-mode table, in its order."""
    for mode in EDIT_MODES.values():
        _add_edit_command(sub, mode)


def _run_edit(args: argparse.Namespace) -> None:
    from .edit_jobs import EditJob, run_edit

    mode_options = {option.name: getattr(args, option.name) for option in EDIT_MODES[args.mode].options}
    print(run_edit(EditJob(mode=args.mode, input=args.input, prompt=args.prompt, output=args.output,
                           mode_options=mode_options, **sampling_values(options_from_args(args)))))


# ---------------------------------------------------------------------- info
@command("info")
def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a model folder", description="Print a pipeline folder's components, "
                       "parameter counts, sample rate and latent shape.")
    p.add_argument("--model", type=Path, default=None, help="pipeline folder (default: checkpoints/default)")
    p.add_argument("--duration", type=float, default=5.0, help="clip length used for the latent shape (seconds)")
    p.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> None:
    from .generate import describe_model

    print(describe_model(args.model, args.duration))


# ---------------------------------------------------------------------- init-model
@command("init-model")
def _add_init_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init-model", help="write a randomly initialised pipeline folder",
                       description="Build a pipeline from a model config with random weights (for tests and as "
                                   "the start of training) and save it as a pipeline folder.")
    p.add_argument("output", type=Path, metavar="OUT", help="folder to write")
    p.add_argument("--config", type=Path, default=None,
                   help="model YAML (default: configs/model/tiny.yaml; configs/model/default.yaml for real training)")
    p.add_argument("--seed", type=int, default=0, help="seed for the random weights (default: 0)")
    p.set_defaults(run=_run_init_model)


def _run_init_model(args: argparse.Namespace) -> None:
    import torch

    from .config import load_config
    from .factory import build_pipeline

    torch.manual_seed(args.seed)
    pipe = build_pipeline(load_config(args.config or _shipped_config("model", "tiny.yaml")))
    pipe.save_pretrained(args.output)
    print(args.output)


# ---------------------------------------------------------------------- convert
@command("convert")
def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a published checkpoint folder (AudioLDM, Auffusion) into an audiodiff folder",
                       description="Read a local checkpoint folder in its published layout (safetensors only; "
                                   "nothing is downloaded) and write an audiodiff pipeline folder that generate, "
                                   "prepare and finetune read. Auffusion's vocoder is published only as the "
                                   "pickle file vocoder/vocoder.pt: it is read with torch.load(weights_only=True) "
                                   "(tensors only, no code) unless vocoder/ also holds a .safetensors copy. "
                                   "See docs/checkpoints.md.")
    p.add_argument("--from", dest="family", required=True, choices=("audioldm", "auffusion"),
                   help="source layout: audioldm (a diffusers AudioLDMPipeline folder, e.g. cvssp/audioldm-s-full-v2) "
                        "or auffusion (a Stable Diffusion folder with vocoder/, e.g. auffusion/auffusion-full-no-adapter)")
    p.add_argument("source", type=Path, metavar="SRC", help="the downloaded checkpoint folder")
    p.add_argument("destination", type=Path, metavar="DST", help="pipeline folder to write")
    p.set_defaults(run=_run_convert)


def _run_convert(args: argparse.Namespace) -> None:
    from .convert import convert

    print(convert(args.family, args.source, args.destination))


# ---------------------------------------------------------------------- prepare
@command("prepare")
def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="cache text encoder states (and VAE latents) for diffusion training",
                       description="Encode every caption of a dataset once with the model's text encoder (and, "
                                   "with --latents, every clip with its VAE) into safetensors shards, so diffusion "
                                   "training needs neither in memory. See docs/data.md.")
    p.add_argument("--data", type=Path, required=True, help="audiofolder or JSONL manifest")
    p.add_argument("--model", type=Path, required=True, help="pipeline folder whose text encoder/VAE to use")
    p.add_argument("--cache", type=Path, required=True, help="folder to write")
    p.add_argument("--latents", action="store_true", help="also cache VAE latents (fixes each clip's crop)")
    p.add_argument("--segment-seconds", type=float, default=5.0, help="crop length for latents (seconds)")
    p.add_argument("--crops-per-clip", type=int, default=1, metavar="K",
                   help="with --latents: up to K crops of each training clip longer than a crop (epochs 0..K-1's "
                        "random starts); diffusion training then takes crop epoch %% K, not one fixed crop (default 1)")
    p.add_argument("--batch-size", type=int, default=32, help="captions/clips encoded together")
    p.add_argument("--fp16", action="store_true", help="store float16 (half the disk)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train crops and the split (match training)")
    p.add_argument("--validation-fraction", type=float, default=0.03,
                   help="share of clips held out for validation latents (match training)")
    p.add_argument("--extra-captions", nargs="*", default=(), help="more captions to cache, e.g. sample prompts")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.set_defaults(run=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> None:
    from .data.prepare import prepare_cache

    print(prepare_cache(args.data, args.model, args.cache, latents=args.latents, batch_size=args.batch_size,
                        segment_seconds=args.segment_seconds, device=args.device, fp16=args.fp16, seed=args.seed,
                        validation_fraction=args.validation_fraction,
                        extra_captions=args.extra_captions, crops_per_clip=args.crops_per_clip))


# ---------------------------------------------------------------------- train / finetune
def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None, help="audiofolder or JSONL manifest (docs/data.md)")
    p.add_argument("--output-dir", type=Path, required=True,
                   help="run folder: checkpoints/, logs/ (TensorBoard), samples/, metrics.jsonl, model/ (the export)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output-dir")
    p.add_argument("--max-shard-size", default=None, help="largest safetensors shard of the export, e.g. 15MB")
    p.add_argument("--max-steps", type=int, default=None, help="override the config's max_steps")
    p.add_argument("--cache", type=Path, default=None, help="diffusion, distill: a folder from `audiodiff prepare`")
    p.add_argument("--validation-list", type=Path, default=None,
                   help="text file naming the validation clips, one per line (default: a seeded 3%% split)")
    p.add_argument("--init-from", type=Path, default=None, metavar="MODEL_DIR",
                   help="start the trained component (vae, vocoder or unet) from this pipeline folder, e.g. the "
                        "last exported model when the run folder is gone; with --resume a checkpoint wins")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice, one per core); on a shared 2-core machine "
                        "give each of two concurrent runs --threads 1")


@command("train")
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a stage: vae, vocoder, diffusion, or distill (a few-step student)",
                       description="Train one stage of the model and export a pipeline folder to OUTPUT_DIR/model. "
                                   "`train distill --model TEACHER_DIR` distils a trained model into a few-step "
                                   "student (latent consistency distillation; the export samples with an "
                                   "LCMScheduler in 4 steps by default; with distill.num_phases > 1, a phased "
                                   "consistency model sampled by 4 deterministic DDIM steps). "
                                   "Runs on CPU, one GPU, or several under `accelerate launch`. See docs/training.md.")
    p.add_argument("stage", choices=("vae", "vocoder", "diffusion", "distill"), help="what to train")
    p.add_argument("--config", type=Path, default=None, help="training YAML (default: configs/train/STAGE.yaml)")
    p.add_argument("--model", type=Path, default=None,
                   help="pipeline folder to start from (distill: the teacher, whose U-Net starts the student)")
    p.add_argument("--model-config", type=Path, default=None, help="or a model YAML to start from random weights")
    _add_training_options(p)
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> None:
    from .training.run import TrainJob, run_job

    config = args.config or _shipped_config("train", f"{args.stage}.yaml")
    print(run_job(TrainJob(stage=args.stage, config=config, output_dir=args.output_dir, data=args.data,
                           model=args.model, model_config=args.model_config, cache=args.cache, resume=args.resume,
                           max_shard_size=args.max_shard_size, max_steps=args.max_steps,
                           validation_list=args.validation_list, threads=args.threads,
                           init_from=args.init_from)))


@command("finetune")
def _add_finetune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a trained pipeline's U-Net on your own data (full or LoRA)",
                       description="Continue diffusion training from a pipeline folder on your dataset; with --lora "
                                   "RANK only LoRA adapters are trained (peft) and merged into the exported U-Net. "
                                   "The export in OUTPUT_DIR/model loads with `audiodiff generate --model`.")
    p.add_argument("--model", type=Path, required=True, help="trained pipeline folder to start from")
    p.add_argument("--config", type=Path, default=None, help="training YAML (default: configs/train/finetune.yaml)")
    p.add_argument("--lora", type=int, default=None, metavar="RANK", help="train LoRA adapters of this rank")
    p.add_argument("--preview", nargs="+", default=(), metavar="PROMPT",
                   help="prompts generated every eval_every steps (OUTPUT_DIR/samples, TensorBoard) and compared "
                        "base vs tuned in OUTPUT_DIR/report.md (default: the dataset's most common caption)")
    p.add_argument("--no-report", action="store_true", help="skip the base/tuned comparison at the end")
    _add_training_options(p)
    p.set_defaults(run=_run_finetune)


def _run_finetune(args: argparse.Namespace) -> None:
    from .errors import InvalidArgumentError
    from .training.finetune import FinetuneJob, run_finetune

    if args.data is None or args.validation_list is not None:
        raise InvalidArgumentError("finetune needs --data DIR (it checks and caches the clips) and trains on every "
                                   "usable clip (no --validation-list; the report shows what was learned).")
    result = run_finetune(FinetuneJob(
        model=args.model, data=args.data, output_dir=args.output_dir,
        config=args.config or _shipped_config("train", "finetune.yaml"), lora_rank=args.lora,
        previews=tuple(args.preview), cache=args.cache, resume=args.resume, max_steps=args.max_steps,
        max_shard_size=args.max_shard_size, threads=args.threads, init_from=args.init_from,
        report=not args.no_report,
    ))
    print(result.summary.describe())
    if result.report is not None:
        print(result.report.describe())
        print(args.output_dir / "report.md")
    print(result.model_dir)


def _shipped_config(kind: str, name: str) -> Path:
    """``configs/KIND/NAME`` of the working directory when present, else of the audiodiff source tree."""
    local = Path("configs") / kind / name
    return local if local.is_file() else Path(__file__).resolve().parent.parent / "configs" / kind / name


# ---------------------------------------------------------------------- serve
@command("serve")
def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a web page and an HTTP API that keep the model loaded",
                       description="Load the pipeline once and serve a Gradio page (prompt, settings, players, "
                                   "log-mel images, downloads) and a JSON API (POST /api/generate answers WAV bytes) "
                                   "on one port. Requests run one at a time; a full queue answers 'busy, retry'. "
                                   "There is no authentication: keep the default loopback address unless the "
                                   "network is trusted. Needs the serve extra: pip install 'audiodiff[serve]'. "
                                   "See docs/serve.md.")
    add_sampling_arguments(p, ["model"])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    add_sampling_arguments(p, ["device", "dtype"], helps={"dtype": "compute dtype of U-Net, VAE and vocoder (as for "
                                                                   "generate)"})
    p.add_argument("--queue-size", type=int, default=4, help="requests that may wait while one runs (default: 4)")
    p.add_argument("--max-duration", type=float, default=10.0,
                   help="longest clip in seconds (default: 10, or the model's limit if lower)")
    p.add_argument("--max-clips", type=int, default=4, help="clips per request (default: 4)")
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # Gradio sends no usage reports (read at import)
    try:
        from .serve.server import ServeOptions, serve
    except ImportError as error:
        raise AudiodiffError(f"audiodiff serve needs the serve extra ({error}); pip install 'audiodiff[serve]'.") from error
    from .serve.request import ServeLimits

    limits = ServeLimits(max_duration=args.max_duration, max_clips=args.max_clips, queue_size=args.queue_size)
    serve(ServeOptions(model=args.model, host=args.host, port=args.port, device=args.device, dtype=args.dtype,
                       limits=limits))


# ---------------------------------------------------------------------- evaluate-vocoder
@command("evaluate-vocoder")
def _add_evaluate_vocoder(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate-vocoder", help="score vocoders and the VAE by copy synthesis of held-out clips (ViSQOL, PESQ, ...)",
        description="Copy synthesis (real clip -> log-mel -> [VAE round trip] -> vocoder -> waveform) of held-out "
                    "clips, scored against the recordings with ViSQOL (audio mode), wideband PESQ (speech), CREPE "
                    "periodicity RMSE and V/UV F1 (speech and pitched clips), multi-resolution STFT and mel L1, plus "
                    "DNSMOS of generated speech. Systems: the real clip (the ceiling), the model's vocoder, "
                    "Griffin-Lim, each --vocoder, and each of them after the VAE. Writes vocoder_eval.json and "
                    "vocoder_eval.md. Needs the eval extra: pip install -e \".[eval]\". See docs/evaluation.md.",
    )
    p.add_argument("--model", type=Path, default=None, help="pipeline folder (default: the default model)")
    p.add_argument("--data", type=Path, required=True, help="audiofolder or JSONL manifest (docs/data.md)")
    p.add_argument("--output-dir", type=Path, required=True, help="where vocoder_eval.json/.md are written")
    p.add_argument("--vocoder", action="append", default=[], metavar="NAME=MODEL_DIR",
                   help="also score the vocoder of this pipeline folder under NAME (repeatable), e.g. a vocoder "
                        "training run's model/")
    p.add_argument("--split", choices=("validation", "all"), default="validation",
                   help="the dataset's held-out clips (as training splits them), or every clip of a held-out folder")
    p.add_argument("--max-clips", type=int, default=40, help="clips scored, at most (default: 40)")
    p.add_argument("--max-seconds", type=float, default=6.0, help="each clip cut to this length (default: 6)")
    p.add_argument("--crepe-model", choices=("tiny", "full"), default="tiny",
                   help="CREPE size for the pitch measures: full is the papers', ~20x slower on a CPU (default: tiny)")
    p.add_argument("--seeds", type=int, default=2,
                   help="generations per speech prompt for DNSMOS; 0 leaves DNSMOS out (default: 2)")
    p.set_defaults(run=_run_evaluate_vocoder)


def _run_evaluate_vocoder(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from .errors import InvalidArgumentError
    from .evaluation.copy_synthesis import load_vocoder
    from .evaluation.measures import PitchSettings
    from .evaluation.vocoder_report import VocoderEvalConfig, evaluate_vocoders
    from .loading import load_pipeline

    extra = {}
    for item in args.vocoder:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise InvalidArgumentError(f"--vocoder takes NAME=MODEL_DIR, got {item!r}.")
        extra[name] = load_vocoder(folder)
    if args.max_clips < 1 or not args.max_seconds > 0 or args.seeds < 0:
        raise InvalidArgumentError("--max-clips must be >= 1, --max-seconds > 0 and --seeds >= 0.")
    config = replace(VocoderEvalConfig(), split=args.split, max_clips=args.max_clips, max_seconds=args.max_seconds,
                     pitch=PitchSettings(model=args.crepe_model), seeds=args.seeds)
    pipe = load_pipeline(args.model, device="cpu", dtype="float32")
    pipe.set_progress_bar_config(disable=True)
    evaluate_vocoders(pipe, args.data, args.output_dir, config, extra)
    print((args.output_dir / "vocoder_eval.md").read_text(), end="")
    print(args.output_dir / "vocoder_eval.json")


# ---------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    """The ``audiodiff`` argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="audiodiff", description="Open latent text-to-audio diffusion: generate, train and fine-tune."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS.values():
        add(sub)
    return parser


@contextmanager
def _startup_imports() -> Iterator[None]:
    """Pause the cyclic garbage collector while torch, diffusers and transformers are imported.  Those imports
    create about a million long-lived objects and trigger repeated full collections that find almost nothing to
    free (benchmarks/README.md, "Import time"); they are then frozen, once per process (``gc.freeze``: left out
    of every later collection, 0.4-0.7 CPU s less loading and generating, benchmarks/README.md "Cold start")."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
        if was_enabled:
            gc.enable()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an :class:`AudiodiffError` is printed as one line and gives exit code 1."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # audiodiff never downloads weights at run time
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        with _startup_imports():
            check_compiled_dependencies()
            importlib.import_module("audiodiff.pipeline")  # torch, diffusers, transformers: every command needs them
        args.run(args)
    except AudiodiffError as error:
        print(f"audiodiff: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("audiodiff: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
