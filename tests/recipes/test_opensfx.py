"""Tests of the opensfx corpus recipe on a fixture package tree made here (no network, no Debian tools)."""
from __future__ import annotations

import json
import re
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from opensfx import build_corpus, captions, licenses, synth  # noqa: E402
from opensfx.audio import SAMPLE_RATE, ClipSettings, load_mono, make_clips  # noqa: E402
from opensfx.debian import DONE_MARKER  # noqa: E402
from opensfx.splits import read_metadata  # noqa: E402

FIELDS = {"file_name", "caption", "captions", "category", "source_package", "source_file", "license", "duration_s", "split"}
FD_DIR = "usr/share/sounds/freedesktop/stereo"
TUX_DIR = "usr/share/tuxpaint/stamps/animals/mammals/dogs"


def tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def bursts(count: int, on_s: float, off_s: float, rate: int) -> np.ndarray:
    """Tone bursts separated by silence: a long file with natural cut points."""
    piece = np.concatenate([tone(on_s, rate, 330.0), np.zeros(int(off_s * rate), np.float32)])
    return np.tile(piece, count)


def write(path: Path, audio: np.ndarray, rate: int, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate, format=fmt, **({"subtype": "VORBIS"} if fmt == "OGG" else {}))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fake unpacked packages whose paths match real caption rules, plus unmatched, silent and long files."""
    root = tmp_path_factory.mktemp("cache")
    fd = root / "unpacked" / "sound-theme-freedesktop"
    rng = np.random.default_rng(0)
    write(fd / FD_DIR / "bell.oga", tone(1.5, 44100, 880.0) * np.exp(-np.arange(66150) / 20000.0).astype(np.float32), 44100, "OGG")
    write(fd / FD_DIR / "camera-shutter.oga", (0.4 * rng.standard_normal(8000)).astype(np.float32), 16000, "OGG")
    write(fd / FD_DIR / "alarm-clock-elapsed.oga", bursts(9, 2.5, 0.6, 22050), 22050, "OGG")  # 27.9 s
    write(fd / FD_DIR / "phone-incoming-call.oga", (1e-5 * rng.standard_normal(32000)).astype(np.float32), 16000, "OGG")
    write(fd / FD_DIR / "mystery-noise.oga", tone(1.0, 16000), 16000, "OGG")
    tux = root / "unpacked" / "tuxpaint-stamps-default"
    write(tux / TUX_DIR / "dog.ogg", np.stack([tone(2.0, 48000, 500.0)] * 2, axis=1), 48000, "OGG")
    write(tux / TUX_DIR / "dog_desc_fr.wav", tone(2.0, 48000, 200.0), 48000, "WAV")
    for package in ("sound-theme-freedesktop", "tuxpaint-stamps-default"):
        (root / "unpacked" / package / DONE_MARKER).touch()
    return root


PACKAGES = ["sound-theme-freedesktop", "tuxpaint-stamps-default"]


@pytest.fixture(scope="module")
def corpus(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    build_corpus.build(out, cache, PACKAGES, jobs=1)
    return out


def rows_by_source(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["source_file"].rsplit("/", 1)[-1], []).append(row)
    return grouped


def test_metadata_format(corpus: Path) -> None:
    lines = (corpus / "metadata.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows, "no clips written"
    assert [r["file_name"] for r in rows] == sorted(r["file_name"] for r in rows)
    for row in rows:
        assert set(row) == FIELDS
        assert re.fullmatch(r"clips/[a-z0-9_]+\.ogg", row["file_name"])
        assert re.fullmatch(r"[a-z0-9_]+", row["category"])
        assert row["caption"] == row["captions"][0] and all(isinstance(c, str) and c for c in row["captions"])
        assert row["split"] in ("train", "validation")
        assert licenses.is_free(row["license"])
        info = sf.info(str(corpus / row["file_name"]))
        assert (info.samplerate, info.channels, info.format, info.subtype) == (SAMPLE_RATE, 1, "OGG", "VORBIS")
        assert abs(info.duration - row["duration_s"]) < 0.05
    stats = json.loads((corpus / "stats.json").read_text())
    assert stats["clips"] == len(rows) and stats["categories"] == len({r["category"] for r in rows})
    assert "sound-theme-freedesktop" in (corpus / "ATTRIBUTION.md").read_text()


def test_caption_mapping_and_exclusions(corpus: Path) -> None:
    grouped = rows_by_source(read_metadata(corpus / "metadata.jsonl"))
    for name, package, relpath in (
        ("bell.oga", "sound-theme-freedesktop", f"{FD_DIR}/bell.oga"),
        ("camera-shutter.oga", "sound-theme-freedesktop", f"{FD_DIR}/camera-shutter.oga"),
        ("dog.ogg", "tuxpaint-stamps-default", f"{TUX_DIR}/dog.ogg"),
    ):
        rule = captions.match_rule(package, relpath)
        assert rule is not None
        assert {r["caption"] for r in grouped[name]} == {rule.caption}
        assert {r["category"] for r in grouped[name]} == {rule.category}
        assert {r["license"] for r in grouped[name]} == {licenses.license_for(package, relpath)[0]}
    assert "mystery-noise.oga" not in grouped  # no rule: left out
    assert "dog_desc_fr.wav" not in grouped  # spoken description: excluded
    assert "phone-incoming-call.oga" not in grouped  # near-silent: dropped


def test_long_file_is_split_at_silence(corpus: Path) -> None:
    clips = rows_by_source(read_metadata(corpus / "metadata.jsonl"))["alarm-clock-elapsed.oga"]
    assert len(clips) >= 3
    assert all(0 < r["duration_s"] <= 10.0 for r in clips)
    assert sum(r["duration_s"] for r in clips) > 20.0  # the tone bursts are kept, not thrown away
    for row in clips:  # cuts fall into the 0.6 s gaps, so every clip holds whole 2.5 s bursts
        whole = (row["duration_s"] + 0.6) / 3.1
        assert abs(whole - round(whole)) * 3.1 < 0.06, row["duration_s"]


def test_make_clips_units() -> None:
    settings = ClipSettings()
    silent = np.zeros(SAMPLE_RATE * 3, np.float32)
    assert make_clips(silent, settings) == []
    long_noise = (0.3 * np.random.default_rng(1).standard_normal(SAMPLE_RATE * 35)).astype(np.float32)
    pieces = make_clips(long_noise, settings)
    assert len(pieces) >= 4 and all(p.size <= settings.max_clip_s * SAMPLE_RATE for p in pieces)


def test_build_is_deterministic_and_split_by_source(corpus: Path, cache: Path, tmp_path: Path) -> None:
    build_corpus.build(tmp_path / "again", cache, PACKAGES, jobs=2)
    first = read_metadata(corpus / "metadata.jsonl")
    assert read_metadata(tmp_path / "again" / "metadata.jsonl") == first
    for clips in rows_by_source(first).values():
        assert len({r["split"] for r in clips}) == 1


def test_numbered_variants_share_a_split_group() -> None:
    from opensfx.selection import Source

    def source(relpath: str) -> Source:
        return Source("0ad-data", Path(relpath), relpath, "rain", "rain", ("rain",), "CC-BY-SA-3.0")

    assert source("audio/ambient/weather/rain_01.ogg").group == source("audio/ambient/weather/rain_02.ogg").group
    assert source("audio/ambient/weather/rain_01.ogg").group != source("audio/ambient/weather/wind_01.ogg").group


def test_pack_respects_size_bound(corpus: Path, tmp_path: Path) -> None:
    rows = read_metadata(corpus / "metadata.jsonl")
    total = sum((corpus / r["file_name"]).stat().st_size for r in rows)
    max_mib = total / 2 / 2**20
    pack_out = tmp_path / "pack"
    summary = build_corpus.build_pack(corpus, pack_out, max_mib)
    size = sum(p.stat().st_size for p in pack_out.rglob("*") if p.is_file())
    packed = read_metadata(pack_out / "metadata.jsonl")
    assert 0 < len(packed) < len(rows) and summary["clips"] == len(packed)
    assert size <= max_mib * 2**20
    assert all((pack_out / r["file_name"]).exists() for r in packed)
    assert len({r["category"] for r in packed}) >= 2  # stratified: not all from one category


def test_caption_table_is_consistent() -> None:
    for rule in captions.RULES:
        re.compile(rule.pattern)
        assert re.fullmatch(r"[a-z0-9_]+", rule.category), rule
        assert rule.caption and rule.caption == rule.caption.strip() and rule.caption[0].islower(), rule
        assert rule.package in licenses.PACKAGES, rule.package
    assert captions.EXCLUDE.search("stamps/animals/dog_desc_fr.ogg") and captions.EXCLUDE.search("sounds/voices/default/hello.ogg")
    assert not captions.EXCLUDE.search("stamps/animals/mammals/dogs/dog.ogg")
    for package in build_corpus.PACKAGES:
        assert licenses.is_free(licenses.PACKAGES[package].license) or licenses.PACKAGES[package].overrides


def test_midi_writer_produces_valid_file() -> None:
    notes = [(0.0, 1.0, 60, 100), (1.0, 1.0, 64, 90), (2.0, 1.0, 67, 80)]
    data = synth.midi_bytes(notes, program=19, tempo_bpm=120)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert struct.unpack(">I", data[18:22])[0] == len(data) - 22
    assert data.count(bytes([0x90, 60, 100])) == 1 and data.endswith(bytes([0xFF, 0x2F, 0]))
    renders = synth.gm_program_renders(0)
    assert len({r.name for r in renders}) == len(renders)
    assert all(r.category == "gm_grand_piano" for r in renders)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package)")
def test_speech_render(tmp_path: Path) -> None:
    item = synth.speech_renders()[0]
    path = synth._render_one((item, str(tmp_path), ""))
    assert path and sf.info(path).duration > 0.5


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists(),
    reason="needs fluidsynth and fluid-soundfont-gm (Debian packages)",
)
def test_gm_render(tmp_path: Path) -> None:
    item = synth.gm_program_renders(0)[0]
    path = synth._render_one((item, str(tmp_path), "/usr/share/sounds/sf2/FluidR3_GM.sf2"))
    assert make_clips(load_mono(Path(path)))
