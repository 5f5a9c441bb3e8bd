"""Device and dtype selection for inference; training devices come from accelerate."""

from __future__ import annotations

from functools import lru_cache

import torch

from .cpu_dtype import CpuDtypeChoice, auto_cpu_dtype, cpu_flags
from .errors import DeviceError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when a GPU is visible, else ``cpu``; other names are checked.

    Raises:
        DeviceError: a CUDA device asked for where none exists, or a name torch does not know.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceError(f"Unknown device {name!r}; use auto, cpu, cuda or cuda:N.") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"Device {name!r} asked for, but no CUDA GPU is visible; use --device cpu (or auto).")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"Device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s).")
    return device


DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # Intel AMX tiles; AVX512-BF16 (Intel Cooper Lake+, AMD Zen 4+)


@lru_cache(maxsize=1)
def cpu_has_bf16_units(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU advertises bf16 matrix or vector units (``amx_bf16`` or ``avx512_bf16`` in its flags).

    Reported by the benchmarks; ``auto`` does not trust it alone (see :mod:`audiodiff.cpu_dtype`).  Reads
    ``/proc/cpuinfo`` (Linux); elsewhere, or if it cannot be read, returns False.
    """
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


def auto_dtype_choice(device: torch.device) -> CpuDtypeChoice | None:
    """What ``auto`` decides on a CPU ``device`` (:func:`audiodiff.cpu_dtype.auto_cpu_dtype` at torch's current
    thread count: AMX tiles, or the cached or a new probe); None on other devices (GPUs: float32)."""
    return auto_cpu_dtype(torch.get_num_threads()) if device.type == "cpu" else None


def auto_dtype_line(device: torch.device) -> str:
    """One line for ``audiodiff info``: what ``--dtype auto`` computes in on ``device`` and why."""
    choice = auto_dtype_choice(device)
    return f"--dtype auto here: {choice.describe() if choice else 'float32 (' + device.type + ')'}"


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype of the U-Net, VAE and vocoder for generation.

    ``"auto"``: on a CPU, the faster of bfloat16 and float32 there (:func:`auto_dtype_choice`: bf16 with AMX
    tiles, else by a short cached probe; bf16 is ~2x faster on an AVX512-BF16 EPYC but ~0.55x on a Xeon with
    AVX512-BF16 and no AMX, see benchmarks/README.md); float32 on GPUs.  ``"float32"``/``"fp32"`` and
    ``"bfloat16"``/``"bf16"`` force one.

    Raises:
        DeviceError: an unknown name.
    """
    if name == "auto":
        choice = auto_dtype_choice(device)
        return choice.dtype if choice else torch.float32
    if name not in DTYPES:
        raise DeviceError(f"Unknown dtype {name!r}; use auto, float32 (fp32) or bfloat16 (bf16).")
    return DTYPES[name]


MIXED_PRECISIONS = ("auto", "no", "fp16", "bf16")


def resolve_mixed_precision(name: str) -> str:
    """Training's autocast setting (accelerate's ``mixed_precision``): ``"auto"`` -> ``"bf16"`` on a CPU where
    ``--dtype auto`` picks bf16 (:func:`auto_dtype_choice`, the same decision as for generation) or a GPU that
    supports bf16, ``"no"`` (float32) elsewhere; ``"no"``, ``"fp16"`` and ``"bf16"`` are kept.

    Raises:
        DeviceError: an unknown name.
    """
    if name not in MIXED_PRECISIONS:
        raise DeviceError(f"Unknown mixed_precision {name!r}; use auto, no, fp16 or bf16.")
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if auto_dtype_choice(torch.device("cpu")).dtype == torch.bfloat16 else "no"
