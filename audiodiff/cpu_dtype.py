"""Which compute dtype ``--dtype auto`` (and training's ``mixed_precision: auto``) takes on a CPU, by measurement.

bf16 units alone do not make bf16 faster: on AMD EPYCs with AVX512-BF16 the default U-Net's guided step runs about
2x faster in bf16, while on an Intel Xeon with AVX512-BF16 but no AMX tiles a 2048 x 2048 matmul runs at 0.55x its
float32 speed and the guided step takes 124-141 ms in bf16 against 110-112 ms in float32 (issue 35).  So:

* AMX tiles present (``amx_bf16`` in the CPU flags): bfloat16, nothing measured;
* otherwise a short probe (:func:`probe_timings`: a few U-Net-shaped convolutions and matmuls in each dtype, well
  under a second) decides, and its result is cached per CPU model, torch version and thread count in a small JSON
  file (:func:`cache_file`), so only the first run on a machine pays for it.  bf16 is taken only when it is clearly
  faster (:data:`BF16_MARGIN`); a corrupt or unwritable cache means the probe simply runs again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

AMX_FLAG = "amx_bf16"
BF16_MARGIN = 0.9  # bf16 only when its probe time is below 0.9x float32's: a clear win, not noise
PROBE_REPEATS = 2
ABORT_FACTOR = 4.0  # a scout bf16 time over 4x float32's: bf16 is emulated, the full probe is skipped
CACHE_NAME = "cpu_dtype.json"
Probe = Callable[[], tuple[float, float]]


@dataclass(frozen=True)
class CpuDtypeChoice:
    """The dtype ``auto`` takes on this CPU and why.

    ``reason`` is ``"amx"`` (AMX tiles present), ``"probe"`` (measured now) or ``"cached"`` (measured on an
    earlier run); ``float32_ms`` and ``bfloat16_ms`` are the probe's times in milliseconds (None for ``"amx"``).
    """

    dtype_name: str
    reason: str
    float32_ms: float | None = None
    bfloat16_ms: float | None = None

    @property
    def dtype(self) -> torch.dtype:
        """``torch.bfloat16`` or ``torch.float32``."""
        return torch.bfloat16 if self.dtype_name == "bfloat16" else torch.float32

    def describe(self) -> str:
        """One line, e.g. ``float32 (probe: bf16 12.1 ms vs float32 6.3 ms)`` or ``bfloat16 (AMX tiles present)``."""
        if self.reason == "amx":
            return f"{self.dtype_name} (AMX tiles present)"
        source = "cached probe" if self.reason == "cached" else "probe"
        return f"{self.dtype_name} ({source}: bf16 {self.bfloat16_ms:.2f} ms vs float32 {self.float32_ms:.2f} ms)"


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The first ``flags`` line of ``cpuinfo`` (Linux); empty where it cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    lines = (line for line in text.splitlines() if line.startswith("flags"))
    return frozenset(next((line.split(":", 1)[1].split() for line in lines), []))


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's ``model name`` (Linux), else :func:`platform.processor` or the machine type."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cache_file() -> Path:
    """``$AUDIODIFF_CACHE/cpu_dtype.json``, else ``$XDG_CACHE_HOME/audiodiff/...``, else ``~/.cache/audiodiff/...``."""
    folder = os.environ.get("AUDIODIFF_CACHE")
    if not folder:
        folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "audiodiff")
    return Path(folder) / CACHE_NAME


def cache_key(threads: int) -> str:
    """What a probe's result holds for: the CPU model, the torch version and the thread count."""
    return f"{cpu_model()} | torch {torch.__version__} | {threads} threads"


def probe_timings(repeats: int = PROBE_REPEATS) -> tuple[float, float]:
    """``(float32_ms, bfloat16_ms)`` of ops shaped like the default U-Net's guided step on a 5 s clip.

    First a scout: one 3x3 convolution (batch 1, 64 channels, 32 x 8; 19 MFLOP) in each dtype.  bf16 without
    hardware support is tens of times slower; when the scout's bf16 time is over :data:`ABORT_FACTOR` x its
    float32 time, the scout's figures are returned (about 0.1 s spent).  A bf16 warm-up run over that factor
    ends its measurement at once (its time is then returned).  Otherwise the best of ``repeats`` runs
    (after a warm-up) of the full set, batch 2 as under classifier-free guidance: 3x3 convolutions at 64 channels
    on 128 x 16 latents and at 128 channels on 64 x 8, and an attention feed-forward matmul of 1,024 tokens x
    128 -> 1,024 (0.9 GFLOP per run; tens of milliseconds per dtype).
    """
    generator = torch.Generator().manual_seed(0)
    scout = _workload((((1, 64, 32, 8), (64, 64, 3, 3)),), None, generator)
    float32_s = _best_run(scout, torch.float32, 3)
    bfloat16_s = _best_run(scout, torch.bfloat16, 1, ABORT_FACTOR * float32_s)
    if bfloat16_s <= ABORT_FACTOR * float32_s:
        full = _workload((((2, 64, 128, 16), (64, 64, 3, 3)), ((2, 128, 64, 8), (128, 128, 3, 3))),
                         ((1024, 128), (1024, 128)), generator)
        float32_s = _best_run(full, torch.float32, repeats)
        bfloat16_s = _best_run(full, torch.bfloat16, repeats, ABORT_FACTOR * float32_s)
    return float32_s * 1e3, bfloat16_s * 1e3


Op = tuple[Callable[..., torch.Tensor], tuple[torch.Tensor, ...], dict]


def _workload(convs: tuple, linear: tuple | None, generator: torch.Generator) -> list[Op]:
    """``(function, float32 arguments, keywords)`` per op: ``convs`` are (input, weight) shapes of padded 3x3
    convolutions, ``linear`` the (input, weight) shapes of one matmul."""
    ops = [(F.conv2d, (torch.randn(x, generator=generator), torch.randn(w, generator=generator)), {"padding": 1})
           for x, w in convs]
    if linear is not None:
        ops.append((F.linear, tuple(torch.randn(shape, generator=generator) for shape in linear), {}))
    return ops


def _best_run(ops: list[Op], dtype: torch.dtype, repeats: int, limit_s: float = math.inf) -> float:
    """Seconds of the fastest of ``repeats`` runs of ``ops`` in ``dtype`` after one warm-up run, or the warm-up's
    time when that is over ``limit_s`` (clearly slower: no need to wait for more)."""
    calls = [(function, tuple(t.to(dtype) for t in arguments), keywords) for function, arguments, keywords in ops]
    best = math.inf
    with torch.inference_mode():
        for run in range(repeats + 1):
            start = time.perf_counter()
            for function, arguments, keywords in calls:
                function(*arguments, **keywords)
            elapsed = time.perf_counter() - start
            if run == 0 and elapsed > limit_s:
                return elapsed
            if run:
                best = min(best, elapsed)
    return best


def choose_cpu_dtype(flags: frozenset[str], probe: Probe | None = None, path: Path | None = None,
                     threads: int | None = None) -> CpuDtypeChoice:
    """The dtype for ``auto`` on a CPU with ``flags``: bfloat16 with AMX, else the cached or a new probe's verdict.

    ``probe`` returns ``(float32_ms, bfloat16_ms)`` (default :func:`probe_timings`); ``path`` is the cache
    (default :func:`cache_file`); ``threads`` keys it (default ``torch.get_num_threads()``).  A fresh result is
    written back atomically; a cache that cannot be read, parsed or written is ignored (logged at debug level).
    """
    if AMX_FLAG in flags:
        return CpuDtypeChoice("bfloat16", "amx")
    path = path or cache_file()
    key = cache_key(threads or torch.get_num_threads())
    entries = _read_cache(path)
    cached = _valid_entry(entries.get(key))
    if cached is not None:
        return CpuDtypeChoice(cached.dtype_name, "cached", cached.float32_ms, cached.bfloat16_ms)
    float32_ms, bfloat16_ms = (probe or probe_timings)()
    name = "bfloat16" if bfloat16_ms < BF16_MARGIN * float32_ms else "float32"
    choice = CpuDtypeChoice(name, "probe", round(float32_ms, 3), round(bfloat16_ms, 3))
    _write_cache(path, entries | {key: asdict(choice)})
    return choice


@lru_cache(maxsize=None)
def auto_cpu_dtype(threads: int) -> CpuDtypeChoice:
    """:func:`choose_cpu_dtype` for this machine's CPU at ``threads`` threads, once per process; logs the choice."""
    choice = choose_cpu_dtype(cpu_flags(), threads=threads)
    log.info("dtype auto on this CPU: %s", choice.describe())
    return choice


def _read_cache(path: Path) -> dict:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        if path.exists():
            log.debug("ignoring the dtype probe cache %s (%s)", path, error)
        return {}
    return entries if isinstance(entries, dict) else {}


def _valid_entry(entry: object) -> CpuDtypeChoice | None:
    if not isinstance(entry, dict) or entry.get("dtype_name") not in ("bfloat16", "float32"):
        return None
    times = entry.get("float32_ms"), entry.get("bfloat16_ms")
    if not all(isinstance(value, (int, float)) and value > 0 for value in times):
        return None
    return CpuDtypeChoice(entry["dtype_name"], "probe", *times)


def _write_cache(path: Path, entries: dict) -> None:
    written: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".cpu_dtype-", suffix=".json",
                                         delete=False) as handle:
            written = Path(handle.name)
            json.dump(entries, handle, indent=1, sort_keys=True)
        os.replace(written, path)
    except OSError as error:
        log.debug("could not write the dtype probe cache %s (%s)", path, error)
        if written is not None:
            written.unlink(missing_ok=True)
