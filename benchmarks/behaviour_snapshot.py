"""Record what the CLI makes and prints, to show that a refactor changed no behaviour.

``record OUT`` runs a fixed set of commands in float32 on one thread (so the sums are split the same way every
time): ``generate`` with the default and the fast model (one clip, a batch with a negative prompt and another
scheduler, a 30 s clip in windows), each edit mode on a generated clip, ``info``, and every ``--help`` text.
It writes the WAVs, the texts and ``manifest.json`` (sha256 of each file). ``compare BEFORE AFTER`` reports
each file as identical, or for WAVs the largest absolute sample difference (in units of full scale), and exits
1 if any file is missing or differs by more than ``--atol`` (1e-6: a 16-bit WAV step is 3e-5, so a WAV is
within it only when identical).

    python benchmarks/behaviour_snapshot.py record ~/audiodiff-runs/snapshot-before
    python benchmarks/behaviour_snapshot.py compare ~/audiodiff-runs/snapshot-before ~/audiodiff-runs/snapshot-after
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

FAST = "checkpoints/fast"
SAMPLING = ["--dtype", "float32", "--device", "cpu"]

GENERATE = {
    "default_dog.wav": ["dog barking", "--seed", "0"],
    "default_rain_batch": ["heavy rain on a roof", "a man speaking", "--negative-prompt", "low quality", "--seed", "3",
                           "--num-waveforms", "2", "--scheduler", "ddim", "--steps", "10"],
    "default_30s.wav": ["wind blowing through trees", "--duration", "30", "--steps", "10", "--seed", "1"],
    "fast_dog.wav": ["dog barking", "--model", FAST, "--seed", "0"],
    "fast_snare.wav": ["a snare drum", "--model", FAST, "--seed", "5", "--duration", "3"],
}
EDITS = {
    "edit.wav": ["edit", "default_dog.wav", "a cat meowing", "--strength", "0.5", "--seed", "2"],
    "inpaint_time.wav": ["inpaint", "default_dog.wav", "a bell ringing", "--start", "1", "--end", "2.5", "--seed", "2"],
    "inpaint_band.wav": ["inpaint", "default_dog.wav", "birds chirping", "--fmin", "2000", "--fmax", "6000"],
    "extend.wav": ["extend", "default_dog.wav", "dog barking", "--seconds", "3", "--steps", "10"],
    "bandwidth.wav": ["bandwidth-extend", "lowpass_dog.wav", "dog barking", "--steps", "10"],
    "fast_edit.wav": ["edit", "fast_dog.wav", "a cat meowing", "--model", FAST, "--strength", "0.6"],
}


def _run(args: list[str], out: Path) -> str:
    env = dict(os.environ, COLUMNS="100", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "audiodiff.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"audiodiff {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _lowpass_copy(source: Path, target: Path, cutoff_hz: float = 4000.0) -> None:
    audio, rate = sf.read(source, dtype="float32")
    spectrum = np.fft.rfft(audio)
    spectrum[np.fft.rfftfreq(audio.size, 1 / rate) > cutoff_hz] = 0
    sf.write(target, np.fft.irfft(spectrum, audio.size).astype(np.float32), rate, subtype="PCM_16")


def _help_texts(out: Path) -> None:
    top = _run(["--help"], out)
    (out / "help_audiodiff.txt").write_text(top)
    commands = re.findall(r"^ {4}(\S+)", top, flags=re.MULTILINE)
    for name in commands:
        text = _run([name, "--help"], out)
        (out / f"help_{name}.txt").write_text(text)
        for sub in re.findall(r"^ {4}(\S+)", text.split("positional arguments:", 1)[-1].split("options:", 1)[0],
                              flags=re.MULTILINE):
            (out / f"help_{name}_{sub}.txt").write_text(_run([name, sub, "--help"], out))


def record(out: Path, texts_only: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if not texts_only:
        _record_audio(out)
    (out / "info_default.txt").write_text(_run(["info"], out).replace(str(Path.cwd()), "."))
    (out / "info_fast.txt").write_text(_run(["info", "--model", FAST], out).replace(str(Path.cwd()), "."))
    _help_texts(out)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} files in {out}")


def _record_audio(out: Path) -> None:
    for name, args in GENERATE.items():
        _run(["generate", *args, *SAMPLING, "-o", str(out / name)], out)
        print("recorded", name, flush=True)
    _lowpass_copy(out / "default_dog.wav", out / "lowpass_dog.wav")
    for name, args in EDITS.items():
        mode, source, *rest = args
        _run([mode, str(out / source), *rest, *SAMPLING, "-o", str(out / name)], out)
        print("recorded", name, flush=True)


def compare(before: Path, after: Path, atol: float) -> int:
    old = json.loads((before / "manifest.json").read_text())
    new = json.loads((after / "manifest.json").read_text())
    failures = 0
    for name in sorted(set(old) | set(new)):
        if name not in new or name not in old:
            print(f"{name}: only in {'before' if name in old else 'after'}")
            failures += 1
        elif old[name] == new[name]:
            print(f"{name}: identical")
        elif name.endswith(".wav"):
            a, _ = sf.read(before / name, dtype="float32")
            b, _ = sf.read(after / name, dtype="float32")
            diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
            print(f"{name}: differs, max abs {diff:.3g} (shapes {a.shape} / {b.shape})")
            failures += diff > atol
        else:
            print(f"{name}: text differs")
            failures += 1
    print(f"{failures} of {len(set(old) | set(new))} files differ")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("record")
    p.add_argument("out", type=Path)
    p.add_argument("--texts-only", action="store_true", help="only info and --help texts (no audio)")
    p = sub.add_parser("compare")
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--atol", type=float, default=1e-6)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out, args.texts_only)
        return 0
    return compare(args.before, args.after, args.atol)


if __name__ == "__main__":
    sys.exit(main())
