"""Select the sound files of an unpacked package and name them through the caption table.

A Source is one input sound file with its caption and license; it becomes one or more clips.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from opensfx.captions import Rule, match_drum_instrument, match_rule
from opensfx.debian import SOUND_FILE_SUFFIXES
from opensfx.licenses import is_free, license_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One sound file to cut into clips. relpath: path inside the package (archives shown as folders)."""

    package: str
    path: Path
    relpath: str
    category: str
    caption: str
    captions: tuple[str, ...]
    license: str

    @property
    def group(self) -> str:
        """Split group: numbered variants of one sound (rain_01, rain_02) share a group."""
        stem = re.sub(r"[\W_]*\d+[a-z]?$", "", Path(self.relpath).stem.lower())
        return f"{self.package}:{Path(self.relpath).parent}/{stem}"


def display_path(relpath: str) -> str:
    """Package-relative path with expanded archives written as archive/member."""
    return relpath.replace(".zip.d/", ".zip/").replace(".cat.d/", ".cat/").replace(".rcc.d/", ".rcc/")


def sound_files(root: Path) -> list[Path]:
    """All audio files under root, sorted by path."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SOUND_FILE_SUFFIXES and p.is_file())


def hydrogen_rules(root: Path) -> dict[str, Rule]:
    """Map package-relative sample paths to rules, from the instrument names in each drumkit.xml."""
    rules: dict[str, Rule] = {}
    for kit_xml in sorted(root.rglob("drumkit.xml")):
        tree = ET.parse(kit_xml)
        for instrument in tree.iter():
            if instrument.tag.split("}")[-1] != "instrument":
                continue
            name = next((c.text or "" for c in instrument if c.tag.split("}")[-1] == "name"), "")
            rule = match_drum_instrument(name)
            if rule is None:
                continue
            for node in instrument.iter():
                if node.tag.split("}")[-1] == "filename" and node.text:
                    sample = kit_xml.parent / node.text.strip()
                    rules[str(sample.relative_to(root))] = rule
    return rules


def select_sources(package: str, root: Path) -> list[Source]:
    """Captioned, freely licensed sound files of one unpacked package, sorted by relpath."""
    drum_rules = hydrogen_rules(root) if package.startswith("hydrogen") else {}
    sources: list[Source] = []
    skipped_license = 0
    files = sound_files(root)
    for path in files:
        relpath = str(path.relative_to(root))
        rule = drum_rules.get(relpath) if drum_rules else match_rule(package, relpath)
        if rule is None:
            continue
        license_id, _ = license_for(package, relpath)
        if not is_free(license_id):
            skipped_license += 1
            continue
        sources.append(Source(package, path, display_path(relpath), rule.category, rule.caption,
                              tuple(rule.captions), license_id))
    log.info("%s: %d of %d sound files captioned (%d skipped for license)",
             package, len(sources), len(files), skipped_license)
    return sources
