"""Reading audiofolders (jsonl, csv) and manifests into clips; skipped rows are reported."""

from __future__ import annotations

import csv
import json
import logging

import pytest

from audiodiff.data.manifest import Clip, read_dataset
from audiodiff.errors import InvalidArgumentError
from tests.conftest import make_audiofolder


def test_audiofolder_jsonl_reads_every_row_in_order(audiofolder):
    clips = read_dataset(audiofolder)
    assert [c.name for c in clips] == [f"clip_{i:03d}.wav" for i in range(8)]
    assert clips[2].caption == "a tone at 440 hertz"
    assert clips[2].captions == ("a tone at 440 hertz",)
    assert clips[2].path == audiofolder / "clip_002.wav"
    assert clips[2].split is None


def test_opensfx_rows_with_paraphrases_split_and_extra_fields(tmp_path):
    root = make_audiofolder(tmp_path / "d", [("x", 220, 0.2), ("y", 330, 0.2)])
    (root / "clips").mkdir()
    rows = []
    for i, split in enumerate(["train", "validation"]):
        (root / f"clip_{i:03d}.wav").rename(root / "clips" / f"{i}.wav")
        rows.append({"file_name": f"clips/{i}.wav", "caption": f"main {i}", "captions": [f"main {i}", f"other {i}"],
                     "category": "drum", "source_package": "p", "source_file": "f", "license": "CC0",
                     "duration_s": 0.2, "split": split})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    clips = read_dataset(root)
    assert [c.captions for c in clips] == [("main 0", "other 0"), ("main 1", "other 1")]
    assert [c.split for c in clips] == ["train", "validation"]
    assert clips[1].name == "clips/1.wav" and clips[1].path.is_file()


def test_csv_with_text_alias(tmp_path):
    root = make_audiofolder(tmp_path / "d", [("unused", 220, 0.2), ("unused", 330, 0.2)])
    (root / "metadata.jsonl").unlink()
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file_name", "text", "captions"])
        writer.writerow(["clip_000.wav", "a low tone", '["a deep hum"]'])
        writer.writerow(["clip_001.wav", "a higher tone", ""])
    clips = read_dataset(root)
    assert [c.caption for c in clips] == ["a low tone", "a higher tone"]
    assert clips[0].captions == ("a low tone", "a deep hum")


def test_manifest_paths_relative_to_manifest_or_absolute(tmp_path, audiofolder):
    manifest = tmp_path / "lists" / "train.jsonl"
    manifest.parent.mkdir()
    manifest.write_text(
        json.dumps({"path": "../data/clip_000.wav", "caption": "relative"}) + "\n\n"
        + json.dumps({"path": str(audiofolder / "clip_001.wav"), "caption": "absolute"}) + "\n"
    )
    clips = read_dataset(manifest)
    assert [c.caption for c in clips] == ["relative", "absolute"]
    assert all(c.path.is_file() for c in clips)


def test_missing_file_and_empty_caption_are_skipped_and_named(audiofolder, caplog):
    rows = [json.loads(line) for line in (audiofolder / "metadata.jsonl").read_text().splitlines()]
    rows[1]["file_name"] = "gone.wav"
    rows[3]["caption"] = "  "
    (audiofolder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING):
        clips = read_dataset(audiofolder)
    assert len(clips) == 6
    assert "Skipped 2 of 8" in caplog.text
    assert "gone.wav (file missing)" in caplog.text and "clip_003.wav (empty caption)" in caplog.text


def test_nothing_usable_names_path_and_layout(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "metadata.jsonl").write_text(json.dumps({"file_name": "nope.wav", "caption": "x"}) + "\n")
    with pytest.raises(InvalidArgumentError, match="No usable clip.*nope.wav.*metadata.jsonl or metadata.csv"):
        read_dataset(root)


def test_folder_without_metadata_and_bad_json_are_clear_errors(tmp_path):
    with pytest.raises(InvalidArgumentError, match="has no metadata.jsonl"):
        read_dataset(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.wav"\n')
    with pytest.raises(InvalidArgumentError, match="line 1 is not JSON"):
        read_dataset(tmp_path)


def test_unknown_split_value_is_an_error(audiofolder):
    (audiofolder / "metadata.jsonl").write_text(
        json.dumps({"file_name": "clip_000.wav", "caption": "x", "split": "holdout"}) + "\n")
    with pytest.raises(InvalidArgumentError, match="holdout"):
        read_dataset(audiofolder)


def test_clip_captions_always_start_with_caption(tmp_path):
    clip = Clip(path=tmp_path / "a.wav", caption="b", captions=("a", "b"))
    assert clip.captions == ("b", "a") and clip.name == "a.wav"
