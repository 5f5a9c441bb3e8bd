"""Fetch and unpack Debian packages into the cache, without installing them system-wide.

Layout under the cache folder:
  debs/<package>_<version>_all.deb     from `apt-get download`
  unpacked/<package>/...               from `dpkg -x`, plus expanded archives:
    <archive>.zip.d/<member>           audio members of zip archives (0ad-data)
    <name>.cat.d/<index>_<slug>__<license>.wav   entries of OpenTTD sound catalogues
    <name>.rcc.d/<resource path>       audio files of Qt binary resources (gcompris-qt-data)
A package whose unpacked/<package>/.opensfx-unpacked marker exists is not fetched again (delete it to refresh).
"""
from __future__ import annotations

import logging
import re
import struct
import subprocess
import zipfile
from pathlib import Path

from opensfx.qt_rcc import extract_rcc

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".ogg", ".oga", ".flac")
SOUND_FILE_SUFFIXES = AUDIO_SUFFIXES + (".mp3",)  # loose files; MP3 only in scratch's media library
DONE_MARKER = ".opensfx-unpacked"


def download(package: str, debs: Path) -> Path:
    """Run `apt-get download package` in debs/ (once); return the .deb path."""
    debs.mkdir(parents=True, exist_ok=True)
    existing = sorted(debs.glob(f"{package}_*.deb"))
    if not existing:
        log.info("apt-get download %s", package)
        subprocess.run(["apt-get", "download", "-q", package], cwd=debs, check=True)
        existing = sorted(debs.glob(f"{package}_*.deb"))
    if not existing:
        raise FileNotFoundError(f"apt-get download {package} left no .deb in {debs}")
    return existing[-1]


def unpack(deb: Path, dest: Path) -> None:
    """`dpkg -x deb dest`, then expand the archives that hold sound files."""
    dest.mkdir(parents=True, exist_ok=True)
    log.info("dpkg -x %s", deb.name)
    subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
    expand_archives(dest)


def expand_archives(dest: Path) -> None:
    """Expand the zip archives, OpenTTD catalogues and Qt resource files under dest (see module doc)."""
    for archive in sorted(dest.rglob("*.zip")):
        expand_zip_audio(archive)
    for catalogue in sorted(dest.rglob("*.cat")):
        expand_openttd_cat(catalogue)
    for resource in sorted(dest.rglob("*.rcc")):
        audio = extract_rcc(resource, resource.with_name(resource.name + ".d"), AUDIO_SUFFIXES)
        if audio:
            log.info("%s: %d audio files extracted", resource.name, len(audio))


def ensure_package(package: str, cache: Path) -> Path:
    """Return cache/unpacked/<package>, downloading and unpacking it first if needed."""
    root = cache / "unpacked" / package
    if (root / DONE_MARKER).exists():
        return root
    unpack(download(package, cache / "debs"), root)
    (root / DONE_MARKER).touch()
    return root


def expand_zip_audio(archive: Path) -> None:
    """Extract the audio members of a zip (skipping music and voice folders) to <archive>.d/."""
    target = archive.with_name(archive.name + ".d")
    with zipfile.ZipFile(archive) as zf:
        members = [
            m for m in sorted(zf.namelist())
            if m.lower().endswith(AUDIO_SUFFIXES) and not re.search(r"(^|/)(music|voice)/", m)
        ]
        for member in members:
            out = target / member
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(member))
    log.info("%s: %d audio members extracted", archive.name, len(members))


CAT_LICENSES = {
    "Creative Commons Zero 1.0": "cc0",
    "Creative Commons Attribution 3.0": "ccby3",
    "Creative Commons Attribution-ShareAlike 3.0": "ccbysa3",
}


def expand_openttd_cat(catalogue: Path) -> None:
    """Split an OpenTTD sound catalogue (.cat) into WAV files named after each entry's description.

    Format: a table of (offset, size) uint32 pairs (the first offset has bit 31 set and also gives
    the table length), and at each offset a length byte, a NUL-terminated description that names
    the sound, its authors and its license, then a RIFF/WAVE file.
    """
    data = catalogue.read_bytes()
    target = catalogue.with_name(catalogue.name + ".d")
    target.mkdir(parents=True, exist_ok=True)
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    for index in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * index)
        offset &= 0x7FFFFFFF
        name_length = data[offset]
        description = data[offset + 1 : offset + 1 + name_length].rstrip(b"\0").decode("utf-8", "replace")
        title = description.split('"')[1] if description.count('"') >= 2 else description
        license_tag = next((tag for text, tag in CAT_LICENSES.items() if text in description), "unknown")
        slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
        wav = data[offset + 1 + name_length : offset + size]
        (target / f"{index:02d}_{slug}__{license_tag}.wav").write_bytes(wav)
