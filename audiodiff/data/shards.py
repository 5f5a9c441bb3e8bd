"""Row-sharded safetensors: append batches of rows, read rows back lazily (memory-mapped).

Every tensor of a shard has the same number of rows (dim 0); row ``r`` of each
tensor belongs to the same record.  Shards are named ``{prefix}-00000.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

DEFAULT_MAX_SHARD_BYTES = 100 * 2**20


class ShardWriter:
    """Collect rows and write a shard whenever ``max_shard_bytes`` is reached (a single row may exceed it).

    Args:
        folder: where shards are written (must exist).
        prefix: shard file name prefix, e.g. ``"text_states"``.
        max_shard_bytes: bytes of tensor data per shard, at most (but at least one row).
    """

    def __init__(self, folder: Path, prefix: str, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES):
        self.folder, self.prefix, self.max_shard_bytes = folder, prefix, max_shard_bytes
        self.files: list[str] = []
        self._pending: list[dict[str, torch.Tensor]] = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def add(self, rows: dict[str, torch.Tensor]) -> list[tuple[int, int]]:
        """Append a batch (every tensor ``(n, ...)``); returns ``(shard, row)`` of each of the ``n`` rows."""
        n = next(iter(rows.values())).shape[0]
        row_bytes = sum(t[0].numel() * t.element_size() for t in rows.values()) if n else 0
        locations = []
        for i in range(n):
            if self._pending_rows and self._pending_bytes + row_bytes > self.max_shard_bytes:
                self.flush()
            self._pending.append({key: tensor[i : i + 1] for key, tensor in rows.items()})
            locations.append((len(self.files), self._pending_rows))
            self._pending_rows += 1
            self._pending_bytes += row_bytes
        return locations

    def flush(self) -> None:
        """Write the pending rows as the next shard."""
        if not self._pending_rows:
            return
        keys = self._pending[0].keys()
        tensors = {key: torch.cat([row[key] for row in self._pending]).contiguous() for key in keys}
        name = f"{self.prefix}-{len(self.files):05d}.safetensors"
        save_file(tensors, str(self.folder / name))
        self.files.append(name)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0


class ShardReader:
    """Read rows of shards written by :class:`ShardWriter`, without loading whole shards."""

    def __init__(self, folder: Path, files: list[str]):
        self._handles = [safe_open(str(folder / name), framework="pt") for name in files]

    def rows(self, key: str, locations: list[tuple[int, int]]) -> torch.Tensor:
        """Tensor ``key`` at ``(shard, row)`` locations, stacked: ``(len(locations), ...)``."""
        return torch.cat([self._handles[shard].get_slice(key)[row : row + 1] for shard, row in locations])
