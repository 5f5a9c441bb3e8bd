"""The vocoder registry: every kind round-trips through a saved pipeline folder, folders name the class the
registry knows, and an unknown type or class is refused with the known ones named."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from audiodiff import AudioDiffusionPipeline
from audiodiff.config import VocosConfig
from audiodiff.errors import IncompatibleModelError
from audiodiff.factory import build_pipeline
from audiodiff.model_folder import read_model_index
from audiodiff.models.griffin_lim import GriffinLimVocoder
from audiodiff.models.vocoders import (
    VOCODER_KINDS,
    Vocoder,
    is_trainable,
    kind_of_class,
    model_config_type,
    trainable_class,
    type_of,
    vocoder_kind,
)

TINY_VOCOS = VocosConfig(n_fft=640, dim=16, intermediate_dim=32, num_layers=1)


def pipeline_with(kind: str, tiny_config) -> AudioDiffusionPipeline:
    """A fresh tiny pipeline whose vocoder is of ``kind`` (Griffin-Lim: of the pipeline's own mel front end)."""
    torch.manual_seed(0)
    if kind == "vocos":
        return build_pipeline(replace(tiny_config, vocos=TINY_VOCOS))
    pipe = build_pipeline(tiny_config)
    if kind == "griffin-lim":
        pipe.register_modules(vocoder=GriffinLimVocoder.from_mel(pipe.mel, n_iter=4))
    return pipe


def test_every_kind_has_a_round_trip_case():
    assert sorted(VOCODER_KINDS) == ["griffin-lim", "hifigan", "vocos"]


@pytest.mark.parametrize("kind", sorted(VOCODER_KINDS))
def test_each_kind_round_trips_through_a_pipeline_folder(kind, tiny_config, tmp_path):
    pipe = pipeline_with(kind, tiny_config)
    assert type_of(pipe.vocoder) == kind and isinstance(pipe.vocoder, Vocoder)
    pipe.save_pretrained(tmp_path / "pipe")
    entry = read_model_index(tmp_path / "pipe")["vocoder"]
    assert kind_of_class(entry[1], entry[0]) is VOCODER_KINDS[kind]
    loaded = AudioDiffusionPipeline.from_pretrained(tmp_path / "pipe")
    assert type(loaded.vocoder) is VOCODER_KINDS[kind].load_class() is type(pipe.vocoder)
    assert is_trainable(loaded.vocoder) == VOCODER_KINDS[kind].trainable
    audio = 0.3 * torch.randn(1, 20 * pipe.mel.config.hop_length, generator=torch.Generator().manual_seed(1))
    log_mel = pipe.mel(audio)
    with torch.no_grad():
        before, after = pipe.vocoder.eval()(log_mel), loaded.vocoder.eval()(log_mel)
    assert before.shape == (1, 20 * pipe.vocoder.hop_length) and torch.equal(before, after)


def test_model_config_picks_the_kind(tiny_config):
    assert model_config_type(tiny_config) == "hifigan"
    assert model_config_type(replace(tiny_config, vocos=TINY_VOCOS)) == "vocos"


def test_unknown_type_names_the_known_ones():
    with pytest.raises(IncompatibleModelError, match="'wavenet'; the known types are griffin-lim, hifigan, vocos"):
        vocoder_kind("wavenet")


def test_a_folder_naming_an_unregistered_vocoder_class_is_refused(tiny_pipeline_dir, tmp_path):
    index = json.loads((tiny_pipeline_dir / "model_index.json").read_text())
    index["vocoder"] = ["audiodiff.models.vocoder", "WaveNetVocoder"]
    folder = tmp_path / "pipe"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(IncompatibleModelError, match="WaveNetVocoder"):
        read_model_index(folder)


def test_only_trainable_kinds_resolve_for_training():
    assert trainable_class("VocosVocoder", "x").__name__ == "VocosVocoder"
    with pytest.raises(IncompatibleModelError, match="The vocoder of x is a GriffinLimVocoder, which has no weights"):
        trainable_class("GriffinLimVocoder", "x")
    assert type_of(torch.nn.Identity()) == "Identity" and not is_trainable(torch.nn.Identity())
