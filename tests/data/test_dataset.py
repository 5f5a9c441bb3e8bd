"""AudioCaptionDataset: unusable files skipped at construction, crops, masks, seeded randomness."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.data.dataset import AudioCaptionDataset, collate
from audiodiff.data.manifest import Clip, read_dataset
from audiodiff.errors import InvalidArgumentError
from tests.conftest import SAMPLE_RATE, make_audiofolder


@pytest.fixture()
def mixed_folder(tmp_path):
    """Two 1 s tones and a 0.25 s tone (index 2) with paraphrases, plus a corrupt, an empty and a silent WAV."""
    root = make_audiofolder(tmp_path / "d", [("low", 220, 1.0), ("mid", 440, 1.0), ("short", 660, 0.25)])
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x01garbage" * 50)
    (root / "empty.wav").write_bytes(b"")
    sf.write(root / "silent.wav", np.zeros(SAMPLE_RATE // 2, dtype=np.float32), SAMPLE_RATE)
    with open(root / "metadata.jsonl", "a") as f:
        for name in ("corrupt.wav", "empty.wav", "silent.wav"):
            f.write(json.dumps({"file_name": name, "caption": name}) + "\n")
    rows = [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines()]
    rows[0]["captions"] = ["a low hum", "a deep drone", "a bass tone"]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def dataset(folder, train: bool, seed: int = 0, segment_seconds: float = 0.5) -> AudioCaptionDataset:
    return AudioCaptionDataset(read_dataset(folder), SAMPLE_RATE, segment_seconds, train=train, seed=seed)


def test_corrupt_empty_and_silent_files_are_skipped_and_named(mixed_folder, caplog):
    with caplog.at_level(logging.WARNING):
        data = dataset(mixed_folder, train=True)
    assert [c.name for c in data.clips] == ["clip_000.wav", "clip_001.wav", "clip_002.wav"]
    assert sorted(s.name for s in data.skipped) == ["corrupt.wav", "empty.wav", "silent.wav"]
    assert "Skipped 3 of 6 audio files" in caplog.text
    assert "silent.wav (silent" in caplog.text and "corrupt.wav (cannot decode" in caplog.text
    assert len(data) == 3 and data[1]["audio"].abs().max() > 0.1


def test_all_unusable_is_a_clear_error(mixed_folder):
    clips = [c for c in read_dataset(mixed_folder) if c.name in ("corrupt.wav", "silent.wav")]
    with pytest.raises(InvalidArgumentError, match="No usable audio among 2 clip.*silent.wav"):
        AudioCaptionDataset(clips, SAMPLE_RATE, 0.5, train=True)


def test_crop_length_and_padding_mask_of_a_short_clip(mixed_folder):
    for train in (True, False):
        item = dataset(mixed_folder, train=train)[2]  # 0.25 s clip, 0.5 s crop
        assert item["audio"].shape == item["audio_mask"].shape == (SAMPLE_RATE // 2,)
        assert item["audio"].dtype == item["audio_mask"].dtype == torch.float32
        real = SAMPLE_RATE // 4
        assert torch.all(item["audio_mask"][:real] == 1) and torch.all(item["audio_mask"][real:] == 0)
        assert torch.all(item["audio"][real:] == 0) and item["audio"][:real].abs().max() > 0.1


def test_validation_crop_is_the_start_of_the_clip_with_main_caption(mixed_folder):
    data = dataset(mixed_folder, train=False)
    item = data[0]
    data.set_epoch(5)
    again = data[0]
    full, _ = sf.read(mixed_folder / "clip_000.wav", dtype="float32")
    assert torch.equal(item["audio"], again["audio"])
    assert torch.allclose(item["audio"], torch.from_numpy(full[: SAMPLE_RATE // 2]))
    assert item["caption"] == again["caption"] == "low"


def test_train_crops_change_with_epoch_and_repeat_with_seed(mixed_folder):
    data, twin = dataset(mixed_folder, train=True, seed=7), dataset(mixed_folder, train=True, seed=7)
    first = [data[0]["audio"] for _ in range(2)]
    assert torch.equal(first[0], first[1]) and torch.equal(first[0], twin[0]["audio"])
    epochs = []
    for epoch in range(4):
        data.set_epoch(epoch)
        epochs.append(data[0])
    assert any(not torch.equal(epochs[0]["audio"], e["audio"]) for e in epochs[1:])
    assert not torch.equal(epochs[0]["audio"], dataset(mixed_folder, train=True, seed=8)[0]["audio"])
    captions = set()
    for epoch in range(12):
        data.set_epoch(epoch)
        captions.add(data[0]["caption"])
    assert captions == {"low", "a low hum", "a deep drone", "a bass tone"}


def test_collate_stacks_audio_and_lists_captions(mixed_folder):
    data = dataset(mixed_folder, train=False)
    batch = collate([data[0], data[2]])
    assert batch["audio"].shape == batch["audio_mask"].shape == (2, SAMPLE_RATE // 2)
    assert batch["caption"] == ["low", "short"] and batch["index"].tolist() == [0, 2]


def test_bad_segment_is_an_error(audiofolder):
    with pytest.raises(InvalidArgumentError, match="segment_seconds"):
        AudioCaptionDataset([Clip(audiofolder / "clip_000.wav", "x")], SAMPLE_RATE, 0.0, train=True)
