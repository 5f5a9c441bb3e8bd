"""The committed pipeline folders: checkpoints/default (25 guided steps) and checkpoints/fast (its 4-step student).

These load the real shipped weights (about 27 MiB each, a few seconds per test on one core); they are skipped
only where the folders are absent (an installed wheel without the source tree's checkpoints/).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from safetensors.torch import load_file

from audiodiff.loading import load_pipeline
from audiodiff.model_folder import PICKLE_SUFFIXES, read_model_index
from recipes.opensfx.export_default import MAX_BYTES, folder_bytes

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def folder(name: str) -> Path:
    path = CHECKPOINTS / name
    if not path.is_dir():
        pytest.skip(f"{path} is not installed")
    return path


def weights(path: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for file in sorted(path.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


@pytest.mark.parametrize("name", ["default", "fast"])
def test_shipped_folders_are_small_fp16_safetensors(name):
    path = folder(name)
    assert folder_bytes(path) <= MAX_BYTES  # the repository's 32 MiB per shipped folder
    read_model_index(path)  # a complete, known pipeline folder
    assert not [f for f in path.rglob("*") if f.suffix in PICKLE_SUFFIXES]
    unet = weights(path / "unet")
    assert unet and all(t.dtype == torch.float16 for t in unet.values())


def test_fast_is_the_default_with_a_distilled_unet():
    default, fast = folder("default"), folder("fast")
    for component in ("vae", "mel", "vocoder"):  # only the U-Net and the sampler differ
        a, b = weights(default / component), weights(fast / component)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), component
    a, b = weights(default / "unet"), weights(fast / "unet")
    assert a.keys() == b.keys()  # the teacher's architecture
    assert any(not torch.equal(a[k], b[k]) for k in a)  # but trained further
    assert read_model_index(fast)["text_encoder_source"] == read_model_index(default)["text_encoder_source"]


def test_fast_samples_four_unguided_phased_steps_with_no_arguments():
    pipe = load_pipeline(folder("fast"), "cpu", "float32")
    pipe.set_progress_bar_config(disable=True)
    assert isinstance(pipe.scheduler, DDIMScheduler) and pipe.config.num_phases == 4
    calls = []
    pipe.unet.register_forward_hook(lambda module, args, output: calls.append((args[0].shape[0], int(args[1]))))
    first = pipe("a dog barking", duration=2.0, generator=torch.Generator().manual_seed(0)).audios[0]
    # four steps at the phase edges, one pass each (no classifier-free guidance batch)
    assert calls == [(1, 999), (1, 749), (1, 499), (1, 249)]
    again = pipe("a dog barking", duration=2.0, generator=torch.Generator().manual_seed(0)).audios[0]
    np.testing.assert_array_equal(first, again)
    assert first.shape == (2 * pipe.mel.config.sample_rate,)
    assert np.isfinite(first).all() and float(np.sqrt(np.mean(first**2))) > 1e-3  # sound, not silence
