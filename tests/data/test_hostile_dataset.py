"""A fuzzed dataset folder: every unusable file is skipped, counted and named, paths outside the folder are
refused, and training runs on what is left."""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from audiodiff.data.dataset import AudioCaptionDataset
from audiodiff.data.manifest import read_dataset
from tests.conftest import SAMPLE_RATE, tone

THREE_HOURS = 3 * 3600


def _sparse_wav(path: Path, seconds: int, sample_rate: int = SAMPLE_RATE) -> None:
    """A 16-bit mono WAV whose header (and size) say ``seconds`` long, stored as a sparse file (no disk used)."""
    data_bytes = seconds * sample_rate * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)


def _wav_bytes(seconds: float = 0.5) -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, tone(300, seconds), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture()
def hostile_folder(tmp_path) -> tuple[Path, dict[str, str], list[str]]:
    """The fuzzed audiofolder; returns (folder, {skipped name: words its reason must hold}, usable names)."""
    root = tmp_path / "fuzzed"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    sf.write(outside / "secret.wav", tone(500, 0.5), SAMPLE_RATE)
    rows: list[bytes] = []

    def row(name: str, caption: object = "a sound", **extra) -> None:
        rows.append(json.dumps({"file_name": name, "caption": caption, **extra}, ensure_ascii=False).encode("utf-8"))

    usable = []
    for i, frequency in enumerate((220, 330, 440, 550)):
        sf.write(root / f"good_{i}.wav", tone(frequency, 1.0), SAMPLE_RATE)
        usable.append(f"good_{i}.wav")
    row("good_0.wav", "a low tone \U0001f50a 低音 \u202eRTL\u202c")  # emoji, CJK, bidi controls
    row("good_1.wav", 440)  # a number as caption
    row("good_2.wav", "tone\x00with\x07controls")
    row("good_3.wav", "a tone")
    sf.write(root / "eight_channels.wav", np.tile(tone(660, 0.5)[:, None], (1, 8)), SAMPLE_RATE)
    row("eight_channels.wav")
    sf.write(root / "rate_384k.wav", tone(1000, 0.2, sample_rate=384_000), 384_000)
    row("rate_384k.wav")
    usable += ["eight_channels.wav", "rate_384k.wav"]

    skipped = {}  # name: words of the reason
    full = _wav_bytes()
    (root / "truncated_header.wav").write_bytes(full[:30])
    skipped["truncated_header.wav"] = "cannot decode"
    (root / "truncated_data.wav").write_bytes(full[: 44 + 1000])  # header says 0.5 s, 500 samples remain
    (root / "zero.wav").write_bytes(b"")
    skipped["zero.wav"] = "cannot decode"
    (root / "text.mp3").write_text("this is not audio\n" * 20)
    skipped["text.mp3"] = "cannot decode"
    (root / "image.flac").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    skipped["image.flac"] = "cannot decode"
    nan = tone(440, 0.5)
    nan[100] = np.nan
    sf.write(root / "nan.wav", nan, SAMPLE_RATE, subtype="FLOAT")
    skipped["nan.wav"] = "non-finite"
    inf = tone(440, 0.5)
    inf[100] = np.inf
    sf.write(root / "inf.wav", inf, SAMPLE_RATE, subtype="FLOAT")
    skipped["inf.wav"] = "non-finite"
    sf.write(root / "rate_1hz.wav", np.full(8, 0.5, dtype=np.float32), 1)
    skipped["rate_1hz.wav"] = "sample rate 1 Hz"
    sf.write(root / "rate_1mhz.wav", tone(1000, 0.01, sample_rate=1_000_000), 1_000_000)
    skipped["rate_1mhz.wav"] = "sample rate 1000000 Hz"
    _sparse_wav(root / "three_hours.wav", THREE_HOURS)
    skipped["three_hours.wav"] = "10800 s long"
    for name in ("truncated_header.wav", "truncated_data.wav", "zero.wav", "text.mp3", "image.flac", "nan.wav",
                 "inf.wav", "rate_1hz.wav", "rate_1mhz.wav", "three_hours.wav"):
        row(name)
    usable.append("truncated_data.wav")  # libsndfile reads the samples that are there: a short, usable clip
    skipped.pop("truncated_data.wav", None)

    # rows that escape the folder, or repeat a row, or are not UTF-8
    (root / "link_out.wav").symlink_to(outside / "secret.wav")
    (root / "link_in.wav").symlink_to(root / "good_3.wav")
    for name in ("../../etc/passwd", "/etc/passwd", str(outside / "secret.wav"), "../outside/secret.wav",
                 "link_out.wav"):
        row(name)
        skipped[name] = "outside the dataset folder"
    row("link_in.wav", "a tone")  # a link inside the folder to a file inside it: the same file as good_3.wav
    skipped["link_in.wav"] = "duplicate of row 4"
    row("good_0.wav", "a low tone \U0001f50a 低音 \u202eRTL\u202c")  # the same row again
    skipped["good_0.wav"] = "duplicate of row 1"
    row("good_1.wav", "a second caption for good_1")  # same file, new caption: merged, not skipped
    rows.append(json.dumps({"file_name": "good_2.wav", "caption": "caf\u00e9"}).encode().replace(
        b"caf\\u00e9", "caf\u00e9".encode("latin-1")))  # a Latin-1 line
    latin_line = len(rows)
    skipped[f"{root / 'metadata.jsonl'}, line {latin_line}"] = "not UTF-8"
    row("nul\x00byte.wav")
    skipped["nul\x00byte.wav"] = "invalid path"
    row("x" * 5000 + ".wav")
    skipped["x" * 200] = "invalid path"
    row("missing.wav")
    skipped["missing.wav"] = "file missing"
    (root / "metadata.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(rows) + b"\n")  # with a UTF-8 BOM
    return root, skipped, usable


def test_fuzzed_folder_skips_counts_and_names_every_bad_input(hostile_folder, caplog):
    root, expected, usable = hostile_folder
    with caplog.at_level(logging.INFO):
        clips = read_dataset(root)
        data = AudioCaptionDataset(clips, SAMPLE_RATE, 0.5, train=True)
    assert sorted(c.name for c in data.clips) == sorted(usable)
    assert [c for c in clips if c.name == "good_1.wav"][0].captions == ("440", "a second caption for good_1")
    skipped_rows = [r for r in caplog.records if r.getMessage().startswith("Skipped")]
    named = " ".join(r.getMessage() for r in skipped_rows)
    assert len(expected) == 20 and len(usable) == 7  # 28 rows: 11 refused/skipped, 1 merged, 9 files unusable
    for name in expected:
        assert name in named, name
    found = {s.name: s.reason for s in data.skipped}
    for name, words in expected.items():
        if name in found:
            assert words in found[name], (name, found[name])
    assert "Skipped 11 of 28 rows" in named and "Skipped 9 of 16 audio files" in named
    assert not any(c.path.resolve().is_relative_to(root.parent / "outside") for c in data.clips)
    for index in range(len(data)):
        item = data[index]
        assert item["audio"].isfinite().all() and item["audio"].shape == (SAMPLE_RATE // 2,)


def test_the_fuzzed_folder_trains(hostile_folder, tmp_path, tiny_pipeline_dir):
    root, _, _ = hostile_folder
    model = _train(tmp_path, "vae", steps=1, data=root, model=tiny_pipeline_dir)
    assert (model / "model_index.json").is_file()


def _train(tmp_path: Path, stage: str, steps: int, **job) -> Path:
    """Run ``steps`` steps of ``stage`` (batch 2, 0.5 s crops) on ``job``'s data or cache; returns the export."""
    from audiodiff.training.run import TrainJob, run_job

    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"max_steps": steps, "batch_size": 2, "segment_seconds": 0.5,
                                      "eval_every": 1000, "validation_fraction": 0.0, "log_every": 1}))
    return run_job(TrainJob(stage=stage, config=config, output_dir=tmp_path / "run", **job))


def test_a_manifest_file_may_still_name_files_anywhere(tmp_path):
    """Manifests are lists their author chose (docs/data.md): absolute and ../ paths stay allowed there."""
    sf.write(tmp_path / "elsewhere.wav", tone(300, 0.5), SAMPLE_RATE)
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "train.jsonl"
    manifest.write_text(json.dumps({"path": str(tmp_path / "elsewhere.wav"), "caption": "a"}) + "\n"
                        + json.dumps({"path": "../elsewhere.wav", "caption": "b"}) + "\n")
    clips = read_dataset(manifest)
    assert len(clips) == 1 and clips[0].captions == ("a", "b")  # the same file twice: captions merged


def test_a_csv_record_that_is_not_utf8_is_skipped_and_named(tmp_path, caplog):
    """One Latin-1 record in metadata.csv costs that record only, named by its line; a quoted caption that
    spans two lines keeps the line numbers of the records after it right."""
    for i in range(3):
        sf.write(tmp_path / f"t{i}.wav", tone(300 + 100 * i, 0.3), SAMPLE_RATE)
    lines = [b"file_name,caption", b't0.wav,"a tone,\nover two lines"', "t1.wav,caf\u00e9 noise".encode("latin-1"),
             "t2.wav,caf\u00e9 noise".encode("utf-8")]
    (tmp_path / "metadata.csv").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    with caplog.at_level(logging.INFO):
        clips = read_dataset(tmp_path)
    assert [(c.name, c.caption) for c in clips] == [("t0.wav", "a tone,\nover two lines"), ("t2.wav", "caf\u00e9 noise")]
    named = " ".join(r.getMessage() for r in caplog.records)
    assert f"{tmp_path / 'metadata.csv'}, line 4" in named and "not UTF-8" in named and "Skipped 1 of 3 rows" in named


def test_a_csv_header_that_is_not_utf8_is_refused(tmp_path):
    from audiodiff.errors import InvalidArgumentError

    (tmp_path / "metadata.csv").write_bytes("file_name,capti\u00f3n\nt0.wav,a\n".encode("latin-1"))
    with pytest.raises(InvalidArgumentError, match=r"line 1 \(the header\) is not UTF-8"):
        read_dataset(tmp_path)


def test_the_fuzzed_folder_prepares_and_trains_diffusion_from_the_cache(hostile_folder, tmp_path, tiny_pipeline_dir):
    """`audiodiff prepare` on the fuzzed folder caches latents for the usable clips only, and a diffusion
    step runs from that cache."""
    from audiodiff.data.latent_dataset import LatentDataset
    from audiodiff.data.prepare import prepare_cache

    root, _, usable = hostile_folder
    cache = prepare_cache(root, tiny_pipeline_dir, tmp_path / "cache", latents=True, batch_size=4,
                          segment_seconds=0.5, device="cpu", validation_fraction=0.0)
    cached = LatentDataset(cache, "train")
    assert sorted(record.name for record in cached.records) == sorted(usable)
    assert all(cached[i]["latents"].isfinite().all() for i in range(len(cached)))
    model = _train(tmp_path, "diffusion", steps=2, cache=cache, model=tiny_pipeline_dir)
    assert (model / "model_index.json").is_file()
