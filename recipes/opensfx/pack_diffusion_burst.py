"""Pack an ``audiodiff prepare`` cache small enough to carry to a lent GPU machine (recipes/opensfx/TRAINING.md).

The cache (float32 MiniLM states padded to 64 tokens, float32 latents) is ~0.8 GB; the device tool carries
64 MiB per call.  This writes the same data as int8 with absmax scales (per caption token, per clip channel),
text states cut to the longest caption, and compresses each file with ``lzma``.  The reader on the GPU side,
:class:`DiffusionPack` (its splits as :class:`PackedLatentDataset`, the training set of
:mod:`recipes.opensfx.train_diffusion_burst`), holds everything in the device's memory.
Quantisation error: about 0.4 % of each row's absolute maximum (printed when packing).

    python recipes/opensfx/pack_diffusion_burst.py --cache ~/audiodiff-runs/cache-s3 --out .gpupack/diffusion
"""

from __future__ import annotations

import argparse
import json
import lzma
from pathlib import Path

import torch
from safetensors.torch import load, save
from torch.utils.data import Dataset

from audiodiff.data.cache import LatentCache, TextStateCache, read_index
from audiodiff.data.dataset import item_rng

INT8_MAX = 127.0


def quantize(values: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 values and float16 absmax scales over ``dims`` (scale 0 rows stay 0)."""
    scale = values.abs().amax(dim=dims, keepdim=True).clamp(min=1e-8) / INT8_MAX
    scale = scale.half().float()
    return torch.round(values / scale).clamp(-INT8_MAX, INT8_MAX).to(torch.int8), scale.squeeze().half()


def write_xz(path: Path, tensors: dict[str, torch.Tensor]) -> int:
    """Save ``tensors`` as safetensors bytes compressed with lzma; returns the file's size in bytes."""
    data = lzma.compress(save({k: v.contiguous() for k, v in tensors.items()}), preset=6)
    path.write_bytes(data)
    return len(data)


def read_xz(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an lzma-compressed safetensors file (as :func:`write_xz` writes them)."""
    return load(lzma.decompress(path.read_bytes()))


def pack(cache: Path, out: Path) -> str:
    """Write ``meta.json``, ``text.safetensors.xz`` and ``latents.safetensors.xz`` of ``cache`` into ``out``; returns a summary line."""
    out.mkdir(parents=True, exist_ok=True)
    text = TextStateCache(cache)
    captions = list(read_index(cache)["text_states"]["captions"])
    states, mask = text.lookup(captions)  # (n, tokens, hidden), trimmed to the longest caption
    lengths = mask.sum(dim=1).to(torch.uint8)
    q_states, s_states = quantize(states, dims=(2,))
    error = (q_states.float() * s_states.float()[..., None] - states).abs().max()
    size_text = write_xz(out / "text.safetensors.xz", {"states": q_states, "scales": s_states, "lengths": lengths})

    latents = LatentCache(cache)
    names = [r.name for r in latents.records]
    z, z_mask = latents.lookup(names)
    q_z, s_z = quantize(z, dims=(2, 3))
    z_error = (q_z.float() * s_z.float()[..., None, None] - z).abs().max()
    size_latents = write_xz(out / "latents.safetensors.xz",
                            {"latents": q_z, "scales": s_z, "latents_mask": z_mask.to(torch.uint8)})

    caption_id = {c: i for i, c in enumerate(captions)}
    meta = {
        "source": str(cache),
        "captions": captions,
        "clips": [{"name": r.name, "split": r.split, "captions": [caption_id[c] for c in r.captions]} for r in latents.records],
        "latent_shape": list(z.shape[1:]),
        "settings": latents.settings,
    }
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return (f"{len(captions)} captions x {states.shape[1]} tokens: {size_text / 2**20:.1f} MiB (max abs error {error:.4f}); "
          f"{len(names)} clips {tuple(z.shape[1:])}: {size_latents / 2**20:.1f} MiB (max abs error {z_error:.4f}, "
          f"latent std {z.std():.3f})")


class DiffusionPack:
    """A pack on ``device``: the text states of its captions (:meth:`lookup`, a
    :class:`~audiodiff.training.diffusion.TextConditioner`) and its clips' latents by split (:meth:`split`)."""

    def __init__(self, folder: Path, device: torch.device):
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        text = read_xz(folder / "text.safetensors.xz")
        self.states = (text["states"].float() * text["scales"].float()[..., None]).to(device)
        lengths = text["lengths"].long()
        self.text_mask = (torch.arange(self.states.shape[1])[None] < lengths[:, None]).long().to(device)
        self.captions = list(meta["captions"])
        self.caption_index = {caption: i for i, caption in enumerate(self.captions)}
        z = read_xz(folder / "latents.safetensors.xz")
        self.latents = (z["latents"].float() * z["scales"].float()[..., None, None]).to(device)
        self.latents_mask = z["latents_mask"].float().to(device)
        self.clips = meta["clips"]

    def lookup(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states ``(batch, tokens, hidden)`` and mask ``(batch, tokens)`` of packed ``captions``."""
        index = torch.tensor([self.caption_index[caption] for caption in captions], device=self.states.device)
        return self.states[index], self.text_mask[index]

    def split(self, name: str, seed: int = 0) -> "PackedLatentDataset":
        """The clips of the split ``name`` (``train`` or ``validation``)."""
        return PackedLatentDataset(self, [i for i, clip in enumerate(self.clips) if clip["split"] == name],
                                   train=name == "train", seed=seed)


class PackedLatentDataset(Dataset):
    """Clips of a :class:`DiffusionPack`, with the items of :class:`~audiodiff.data.latent_dataset.LatentDataset`:
    ``latents`` ``(C, h, w)`` and ``latents_mask`` ``(h,)`` on the pack's device, ``caption`` (train: one of the
    clip's captions drawn from ``(seed, index, epoch)``; validation: its main caption), ``index``, ``name``."""

    def __init__(self, pack: DiffusionPack, members: list[int], train: bool, seed: int = 0):
        self.pack, self.members, self.train, self.seed, self.epoch = pack, members, train, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str | int]:
        member = self.members[index]
        clip = self.pack.clips[member]
        pick = int(item_rng(self.seed, index, self.epoch).integers(len(clip["captions"]))) if self.train else 0
        return {"latents": self.pack.latents[member], "latents_mask": self.pack.latents_mask[member],
                "caption": self.pack.captions[clip["captions"][pick]], "index": index, "name": clip["name"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True, help="folder written by `audiodiff prepare --latents`")
    parser.add_argument("--out", type=Path, required=True, help="pack folder (created)")
    args = parser.parse_args()
    print(pack(args.cache, args.out))


if __name__ == "__main__":
    main()
