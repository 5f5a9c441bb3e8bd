"""Device selection for inference; training devices come from accelerate."""

from __future__ import annotations

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
