"""The loader module: the latent grid read from a folder's configs is the loaded pipeline's own."""

from __future__ import annotations

import json

from audiodiff.loading import load_pipeline, model_grid


def test_model_grid_from_configs_is_the_loaded_pipelines(tiny_pipeline_dir):
    assert model_grid(tiny_pipeline_dir) == load_pipeline(tiny_pipeline_dir, "cpu").latent_grid()
    grid = model_grid(tiny_pipeline_dir)
    assert grid.factor == 2 ** (len(json.loads((tiny_pipeline_dir / "vae" / "config.json").read_text())
                                    ["block_out_channels"]) - 1)
