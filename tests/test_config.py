"""Typed model configs: YAML round trip, unknown keys, tuples."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audiodiff.config import (
    AudioConfig,
    ModelConfig,
    TextEncoderConfig,
    VocoderConfig,
    from_dict,
    load_config,
    save_config,
)

TINY_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "model" / "tiny.yaml"


def test_yaml_round_trip(tmp_path, tiny_config):
    for config in (ModelConfig(), tiny_config):
        save_config(config, tmp_path / "model.yaml")
        assert load_config(tmp_path / "model.yaml") == config


def test_tuples_are_restored(tmp_path):
    config = ModelConfig(vocoder=VocoderConfig(resblock_dilation_sizes=((1, 2), (3, 4))))
    save_config(config, tmp_path / "model.yaml")
    loaded = load_config(tmp_path / "model.yaml")
    assert loaded.vocoder.resblock_dilation_sizes == ((1, 2), (3, 4))
    assert isinstance(loaded.vocoder.upsample_rates, tuple)
    assert isinstance(loaded.unet.attention_levels, tuple)
    assert all(isinstance(d, tuple) for d in loaded.vocoder.resblock_dilation_sizes)
    hash(loaded.vocoder)  # frozen and fully tuple-valued, so hashable


def test_tiny_yaml_loads(tiny_config):
    assert tiny_config.vae.block_out_channels == (8, 16)
    assert tiny_config.text_encoder.random_config["model_type"] == "bert"
    assert load_config(TINY_CONFIG) == tiny_config


def test_partial_yaml_keeps_defaults(tmp_path):
    (tmp_path / "m.yaml").write_text("audio:\n  n_mels: 80\nmax_duration: 4.0\n")
    config = load_config(tmp_path / "m.yaml")
    assert config.audio == dataclasses.replace(AudioConfig(), n_mels=80)
    assert config.max_duration == 4.0 and config.vae == ModelConfig().vae


def test_unknown_key_is_named(tmp_path):
    (tmp_path / "m.yaml").write_text("audio:\n  n_melz: 80\n")
    with pytest.raises(ValueError, match="n_melz"):
        load_config(tmp_path / "m.yaml")
    with pytest.raises(ValueError, match="colour"):
        from_dict(ModelConfig, {"colour": "red"})


def test_non_mapping_and_missing_file(tmp_path):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "absent.yaml")


def test_optional_dict_field_is_kept():
    config = from_dict(TextEncoderConfig, {"random_config": {"model_type": "t5", "d_model": 16}})
    assert config.random_config == {"model_type": "t5", "d_model": 16}
    assert from_dict(TextEncoderConfig, {}).random_config is None
