"""Deterministic train/validation split and the size-bounded, category-stratified pack.

The split is decided per source group (a source file and its numbered variants), from a hash of
the group name, so clips of one file never straddle the two sets and re-runs agree.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections import defaultdict
from pathlib import Path

log = logging.getLogger(__name__)

VALIDATION_PER_MILLE = 30
PACK_RESERVE_BYTES = 256 * 1024  # room kept for ATTRIBUTION.md and stats.json inside the pack bound


def stable_hash(text: str) -> int:
    """Platform-independent 64-bit hash of a string."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


def split_for_group(group: str, validation_per_mille: int = VALIDATION_PER_MILLE) -> str:
    """'validation' for about validation_per_mille / 1000 of the groups, else 'train'."""
    return "validation" if stable_hash(group) % 1000 < validation_per_mille else "train"


def write_metadata(rows: list[dict], path: Path) -> None:
    """Write rows as JSON lines sorted by file_name."""
    with path.open("w", encoding="utf-8") as f:
        for row in sorted(rows, key=lambda r: r["file_name"]):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_metadata(path: Path) -> list[dict]:
    """Rows of a metadata.jsonl file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stratified_order(rows: list[dict]) -> list[dict]:
    """Round-robin over categories (sorted), each category's clips in hash order: a fair prefix at any length."""
    by_category: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
    queues = [sorted(v, key=lambda r: stable_hash(r["file_name"])) for _, v in sorted(by_category.items())]
    ordered: list[dict] = []
    for i in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[i] for q in queues if i < len(q))
    return ordered


def pack(corpus: Path, pack_out: Path, max_mib: float) -> dict:
    """Copy a category-stratified subset of corpus into pack_out, at most max_mib MiB in all.

    The budget covers clips and metadata.jsonl; min(PACK_RESERVE_BYTES, 10 %) of it is kept free for
    ATTRIBUTION.md and stats.json, written afterwards. Returns {"clips", "bytes", "hours", "categories"} of the pack.
    """
    rows = read_metadata(corpus / "metadata.jsonl")
    limit = int(max_mib * 1024 * 1024)
    budget = limit - min(PACK_RESERVE_BYTES, limit // 10)
    chosen: list[dict] = []
    used = 0
    for row in stratified_order(rows):
        size = (corpus / row["file_name"]).stat().st_size + len(json.dumps(row, ensure_ascii=False)) + 1
        if used + size > budget:
            continue
        chosen.append(row)
        used += size
    if pack_out.exists():
        shutil.rmtree(pack_out)
    (pack_out / "clips").mkdir(parents=True)
    for row in chosen:
        shutil.copyfile(corpus / row["file_name"], pack_out / row["file_name"])
    write_metadata(chosen, pack_out / "metadata.jsonl")
    summary = {
        "clips": len(chosen),
        "bytes": used,
        "hours": round(sum(r["duration_s"] for r in chosen) / 3600, 3),
        "categories": len({r["category"] for r in chosen}),
    }
    log.info("pack %s: %s", pack_out, summary)
    return summary
