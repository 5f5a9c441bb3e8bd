"""recipes/opensfx/export_default.py: the fp16 shipped folder, and a decoder-only VAE swapped in with --vae."""

from __future__ import annotations

import json

import pytest
import torch

from audiodiff import AudioDiffusionPipeline
from recipes.opensfx.export_default import export_default


def with_changed_vae(source, out, prefix: str):
    """A copy of the pipeline folder ``source`` whose VAE tensors starting with ``prefix`` are shifted."""
    pipe = AudioDiffusionPipeline.from_pretrained(source)
    with torch.no_grad():
        for name, tensor in pipe.vae.named_parameters():
            if name.startswith(prefix):
                tensor.add_(0.01)
    pipe.save_pretrained(out)
    return pipe.vae.state_dict()


def test_export_takes_a_new_decoder_from_vae_and_halves_the_weights(tiny_pipeline_dir, tmp_path):
    decoder = with_changed_vae(tiny_pipeline_dir, tmp_path / "decoder", "decoder.")
    export_default(tiny_pipeline_dir, None, tmp_path / "out", vae=tmp_path / "decoder")
    shipped = AudioDiffusionPipeline.from_pretrained(tmp_path / "out")
    original = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    for name, tensor in shipped.vae.state_dict().items():
        assert torch.equal(tensor, decoder[name].half().float()), name  # v2's decoder, stored in fp16
    unet = dict(original.unet.state_dict())
    assert all(torch.equal(t, unet[k].half().float()) for k, t in shipped.unet.state_dict().items())
    configs = [json.loads(f.read_text()) for f in (tmp_path / "out").glob("*/config.json")]
    assert configs and not [c for c in configs if "_name_or_path" in c]  # no run folder named in the shipped files
    assert json.loads((tmp_path / "out" / "model_index.json").read_text())["_name_or_path"] == "audiodiff-out"


def test_export_refuses_a_vae_with_another_encoder(tiny_pipeline_dir, tmp_path):
    with_changed_vae(tiny_pipeline_dir, tmp_path / "encoder", "encoder.")
    with pytest.raises(ValueError, match="latent space"):
        export_default(tiny_pipeline_dir, None, tmp_path / "out", vae=tmp_path / "encoder")
    assert not (tmp_path / "out").exists()
