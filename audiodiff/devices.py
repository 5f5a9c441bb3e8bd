"""Device and dtype selection for inference; training devices come from accelerate."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

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

    Reads ``/proc/cpuinfo`` (Linux); elsewhere, or if it cannot be read, returns False.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype of the U-Net, VAE and vocoder for generation.

    ``"auto"``: bfloat16 on a CPU with bf16 units (:func:`cpu_has_bf16_units`; the default model's real-time
    factor went from 0.42 to 0.24 on an AVX512-BF16 EPYC, see benchmarks/README.md), float32 on other CPUs (bf16 without the units is
    emulated and slow) and on GPUs.  ``"float32"``/``"fp32"`` and ``"bfloat16"``/``"bf16"`` force one.

    Raises:
        DeviceError: an unknown name.
    """
    if name == "auto":
        return torch.bfloat16 if device.type == "cpu" and cpu_has_bf16_units() else torch.float32
    if name not in DTYPES:
        raise DeviceError(f"Unknown dtype {name!r}; use auto, float32 (fp32) or bfloat16 (bf16).")
    return DTYPES[name]


MIXED_PRECISIONS = ("auto", "no", "fp16", "bf16")


def resolve_mixed_precision(name: str) -> str:
    """Training's autocast setting (accelerate's ``mixed_precision``): ``"auto"`` -> ``"bf16"`` on a CPU with bf16
    units (:func:`cpu_has_bf16_units`; the same test as ``--dtype auto`` for generation) or a GPU that supports
    bf16, ``"no"`` (float32) elsewhere; ``"no"``, ``"fp16"`` and ``"bf16"`` are kept.

    Raises:
        DeviceError: an unknown name.
    """
    if name not in MIXED_PRECISIONS:
        raise DeviceError(f"Unknown mixed_precision {name!r}; use auto, no, fp16 or bf16.")
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if cpu_has_bf16_units() else "no"
