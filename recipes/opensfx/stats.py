"""Corpus statistics (stats.json) and attribution (ATTRIBUTION.md) from metadata rows."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from opensfx.licenses import license_for


def corpus_stats(rows: list[dict]) -> dict:
    """Counts, hours, category histogram (seconds and clips), licenses, packages and split sizes."""
    seconds: Counter[str] = Counter()
    clips: Counter[str] = Counter()
    for row in rows:
        seconds[row["category"]] += row["duration_s"]
        clips[row["category"]] += 1
    total = sum(seconds.values())
    histogram = {
        category: {"clips": clips[category], "seconds": round(seconds[category], 1),
                   "share_of_hours": round(seconds[category] / total, 4) if total else 0.0}
        for category in sorted(seconds, key=lambda c: (-seconds[c], c))
    }

    def hours_by(field: str) -> dict[str, dict]:
        seconds_by: Counter[str] = Counter()
        clips_by: Counter[str] = Counter()
        for row in rows:
            seconds_by[row[field]] += row["duration_s"]
            clips_by[row[field]] += 1
        return {key: {"clips": clips_by[key], "hours": round(seconds_by[key] / 3600, 3)} for key in sorted(seconds_by)}

    return {
        "clips": len(rows),
        "hours": round(total / 3600, 3),
        "categories": len(seconds),
        "max_category_share_of_hours": max((h["share_of_hours"] for h in histogram.values()), default=0.0),
        "splits": hours_by("split"),
        "licenses": hours_by("license"),
        "packages": hours_by("source_package"),
        "category_histogram": histogram,
    }


def write_stats(rows: list[dict], out: Path) -> dict:
    """Write out/stats.json; return the stats."""
    stats = corpus_stats(rows)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def write_attribution(rows: list[dict], out: Path) -> None:
    """Write out/ATTRIBUTION.md: per package, each (license, copyright holders) with its clip count."""
    groups: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for row in rows:
        license_id, holders = license_for(row["source_package"], row["source_file"])
        groups[row["source_package"]][(license_id, holders)] += 1
    lines = [
        "# Attribution",
        "",
        "Every clip in this corpus comes from a Debian package (or is rendered from one).",
        "Per-clip license and source file are in metadata.jsonl; full terms are in each package's",
        "/usr/share/doc/<package>/copyright.",
        "",
    ]
    for package in sorted(groups):
        lines += [f"## {package}", "", "| license | copyright holders | clips |", "|---|---|---|"]
        for (license_id, holders), count in sorted(groups[package].items()):
            lines.append(f"| {license_id} | {holders} | {count} |")
        lines.append("")
    (out / "ATTRIBUTION.md").write_text("\n".join(lines), encoding="utf-8")
