"""`--dtype auto` on a CPU: AMX -> bf16, else a probe decides, cached per CPU model, torch version and threads."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch

from audiodiff import cpu_dtype, devices
from audiodiff.cpu_dtype import CpuDtypeChoice, choose_cpu_dtype

# the Intel Xeon (AVX512-BF16, no AMX): guided step 124-141 ms in bf16 against 110-112 ms in float32
XEON = (111.0, 130.0)
EPYC = (20.0, 10.0)  # the AVX512-BF16 EPYCs: bf16 about 2x faster
AVX512_BF16 = frozenset({"avx512f", "avx512_bf16"})


def probe_giving(timings, calls):
    def probe():
        calls.append(timings)
        return timings
    return probe


def never_probe():
    raise AssertionError("the probe ran although the choice was known")


def test_amx_picks_bf16_without_probing(tmp_path):
    choice = choose_cpu_dtype(AVX512_BF16 | {"amx_bf16", "amx_tile"}, never_probe, tmp_path / "cache.json", 2)
    assert choice == CpuDtypeChoice("bfloat16", "amx") and choice.dtype == torch.bfloat16
    assert not (tmp_path / "cache.json").exists()
    assert choice.describe() == "bfloat16 (AMX tiles present)"


@pytest.mark.parametrize(("timings", "expected"), [(XEON, torch.float32), (EPYC, torch.bfloat16),
                                                    ((10.0, 9.5), torch.float32)])  # a 5 % bf16 win is noise
def test_the_probe_decides_without_amx(tmp_path, timings, expected):
    calls = []
    choice = choose_cpu_dtype(AVX512_BF16, probe_giving(timings, calls), tmp_path / "cache.json", 2)
    assert calls == [timings] and choice.dtype == expected and choice.reason == "probe"
    assert (choice.float32_ms, choice.bfloat16_ms) == timings
    name = "bfloat16" if expected == torch.bfloat16 else "float32"
    assert choice.describe() == f"{name} (probe: bf16 {timings[1]:.2f} ms vs float32 {timings[0]:.2f} ms)"


def test_cache_round_trip_per_cpu_torch_and_threads(tmp_path):
    path = tmp_path / "nested" / "cpu_dtype.json"
    calls = []
    first = choose_cpu_dtype(frozenset(), probe_giving(XEON, calls), path, 2)
    entries = json.loads(path.read_text())
    key = cpu_dtype.cache_key(2)
    assert list(entries) == [key] and torch.__version__ in key and "2 threads" in key
    assert entries[key]["dtype_name"] == "float32"
    again = choose_cpu_dtype(frozenset(), never_probe, path, 2)
    assert again.reason == "cached" and again.dtype == first.dtype == torch.float32
    assert again.describe().startswith("float32 (cached probe: ")
    # another thread count is another entry, measured anew; the first one stays
    other = choose_cpu_dtype(frozenset(), probe_giving(EPYC, calls), path, 1)
    assert other.dtype == torch.bfloat16 and calls == [XEON, EPYC]
    assert set(json.loads(path.read_text())) == {key, cpu_dtype.cache_key(1)}
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary file left behind


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"x": 1})])
def test_corrupt_cache_re_probes_and_is_rewritten(tmp_path, content):
    path = tmp_path / "cpu_dtype.json"
    path.write_text(content)
    key = cpu_dtype.cache_key(2)
    if content.startswith("{\""):
        path.write_text(json.dumps({key: {"dtype_name": "float16", "float32_ms": 1.0, "bfloat16_ms": -1}}))
    calls = []
    assert choose_cpu_dtype(frozenset(), probe_giving(EPYC, calls), path, 2).dtype == torch.bfloat16
    assert calls == [EPYC] and json.loads(path.read_text())[key]["dtype_name"] == "bfloat16"


def test_unwritable_cache_still_decides(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    path = blocker / "cpu_dtype.json"  # its folder is a file: nothing can be written there
    calls = []
    for _ in range(2):
        assert choose_cpu_dtype(frozenset(), probe_giving(XEON, calls), path, 2).dtype == torch.float32
    assert calls == [XEON, XEON]


def test_cache_file_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIODIFF_CACHE", str(tmp_path / "mine"))
    assert cpu_dtype.cache_file() == tmp_path / "mine" / "cpu_dtype.json"
    monkeypatch.delenv("AUDIODIFF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cpu_dtype.cache_file() == tmp_path / "xdg" / "audiodiff" / "cpu_dtype.json"


def test_real_probe_returns_two_positive_times():
    float32_ms, bfloat16_ms = cpu_dtype.probe_timings(repeats=1)
    assert all(math.isfinite(t) and t > 0 for t in (float32_ms, bfloat16_ms))


def test_auto_cpu_dtype_logs_its_choice_once(monkeypatch, caplog, tmp_path):
    calls = []
    monkeypatch.setattr(cpu_dtype, "cpu_flags", lambda: frozenset())
    monkeypatch.setattr(cpu_dtype, "probe_timings", probe_giving(XEON, calls))
    monkeypatch.setenv("AUDIODIFF_CACHE", str(tmp_path))
    cpu_dtype.auto_cpu_dtype.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="audiodiff.cpu_dtype"):
            assert cpu_dtype.auto_cpu_dtype(3).dtype == torch.float32
            assert cpu_dtype.auto_cpu_dtype(3).dtype == torch.float32
    finally:
        cpu_dtype.auto_cpu_dtype.cache_clear()
    assert calls == [XEON]
    assert [r.getMessage() for r in caplog.records] == [
        "dtype auto on this CPU: float32 (probe: bf16 130.00 ms vs float32 111.00 ms)"]


@pytest.mark.parametrize(("choice", "expected"), [(CpuDtypeChoice("bfloat16", "amx"), "bf16"),
                                                  (CpuDtypeChoice("float32", "cached", *XEON), "no")])
def test_training_auto_precision_follows_the_same_choice(monkeypatch, choice, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "auto_cpu_dtype", lambda threads: choice)
    assert devices.resolve_mixed_precision("auto") == expected
    assert devices.resolve_mixed_precision("no") == "no" and devices.resolve_mixed_precision("bf16") == "bf16"
    assert devices.auto_dtype_line(torch.device("cpu")) == f"--dtype auto here: {choice.describe()}"
