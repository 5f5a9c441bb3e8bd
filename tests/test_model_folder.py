"""Hostile model folders are refused before any import or allocation; weights come from safetensors only."""

from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path

import pytest

from audiodiff import AudioDiffusionPipeline
from audiodiff.errors import IncompatibleModelError
from audiodiff.model_folder import read_model_index

PROBE = "audiodiff_hostile_probe"


@pytest.fixture()
def probe(tmp_path, monkeypatch) -> Path:
    """An importable module that leaves a marker file when imported: it must never be."""
    marker = tmp_path / "imported"
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / f"{PROBE}.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Thing: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    return marker


def _copy(tiny_pipeline_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_pipeline_dir, folder)
    return folder


def _edit_index(folder: Path, **entries) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    index.update(entries)
    (folder / "model_index.json").write_text(json.dumps(index))


HOSTILE_INDEXES = {  # name: model_index.json entries
    "os.system as the U-Net": {"unet": ["os", "system"]},
    "subprocess.Popen as the VAE": {"vae": ["subprocess", "Popen"]},
    "builtins.eval as the text encoder": {"text_encoder": ["builtins", "eval"]},
    "an importable module as the vocoder": {"vocoder": [PROBE, "Thing"]},
    "an extra component": {"payload": [PROBE, "Thing"]},
    "a diffusers model as the scheduler": {"scheduler": ["diffusers", "AutoencoderKL"]},
    "a transformers function as the tokenizer": {"tokenizer": ["transformers", "pipeline"]},
    "a dotted class name": {"text_encoder": ["transformers", "os.system"]},
    "three entries": {"mel": ["audiodiff.mel", "MelSpectrogram", "x"]},
}


@pytest.mark.parametrize("name", list(HOSTILE_INDEXES))
def test_a_model_index_naming_a_foreign_class_is_refused_before_import(tiny_pipeline_dir, tmp_path, probe, name):
    folder = _copy(tiny_pipeline_dir, tmp_path)
    _edit_index(folder, **HOSTILE_INDEXES[name])
    sys.modules.pop(PROBE, None)
    with pytest.raises(IncompatibleModelError, match="not one of audiodiff's components|not a \\[library, class\\]"):
        AudioDiffusionPipeline.from_pretrained(folder)
    assert PROBE not in sys.modules and not probe.exists()


class _Payload:
    """Unpickling this creates a marker file: what a hostile .bin/.pt could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("component,file_name", [("unet", "diffusion_pytorch_model.bin"),
                                                 ("vae", "diffusion_pytorch_model.pt"),
                                                 ("mel", "diffusion_pytorch_model.ckpt")])
def test_pickle_weights_are_never_loaded(tiny_pipeline_dir, tmp_path, component, file_name):
    folder = _copy(tiny_pipeline_dir, tmp_path)
    marker = tmp_path / "unpickled"
    for file in (folder / component).glob("*.safetensors*"):
        file.unlink()
    (folder / component / file_name).write_bytes(pickle.dumps({"weight": _Payload(marker)}))
    with pytest.raises(IncompatibleModelError, match=f"{component} has no .safetensors weights.*{file_name}"):
        AudioDiffusionPipeline.from_pretrained(folder)
    assert not marker.exists()


def test_text_encoder_pickle_fallback_is_refused(tiny_pipeline_dir, tmp_path):
    folder = _copy(tiny_pipeline_dir, tmp_path)
    for file in (folder / "text_encoder").glob("*.safetensors"):
        file.unlink()
    (folder / "text_encoder" / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": _Payload(tmp_path / "x")}))
    with pytest.raises(IncompatibleModelError, match="text_encoder has no .safetensors.*pytorch_model.bin"):
        read_model_index(folder)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("component,key,value", [
    ("unet", "block_out_channels", [10**9, 32]),
    ("vae", "latent_channels", 10**9),
    ("vocoder", "upsample_initial_channel", 2**40),
    ("text_encoder", "hidden_size", 10**9),
    ("text_encoder", "vocab_size", 10**12),
    ("mel", "n_mels", 10**7),
])
def test_absurd_sizes_are_refused_before_allocation(tiny_pipeline_dir, tmp_path, monkeypatch, component, key, value):
    import torch

    folder = _copy(tiny_pipeline_dir, tmp_path)
    config_file = folder / component / "config.json"
    config = json.loads(config_file.read_text())
    assert key in config, sorted(config)
    config[key] = value
    config_file.write_text(json.dumps(config))

    def no_allocation(*args, **kwargs):
        raise AssertionError("a tensor was allocated before the config was checked")

    monkeypatch.setattr(torch.nn.Module, "__init__", no_allocation)
    with pytest.raises(IncompatibleModelError, match=f"{component}/config.json: {key} = "):
        AudioDiffusionPipeline.from_pretrained(folder)


def test_a_model_index_that_is_not_json_is_refused(tiny_pipeline_dir, tmp_path):
    folder = _copy(tiny_pipeline_dir, tmp_path)
    (folder / "model_index.json").write_bytes(b"\xff\xfe{not json")
    with pytest.raises(IncompatibleModelError, match="model_index.json is not valid JSON"):
        read_model_index(folder)


def test_the_shipped_layout_passes(tiny_pipeline_dir):
    index = read_model_index(tiny_pipeline_dir)
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
