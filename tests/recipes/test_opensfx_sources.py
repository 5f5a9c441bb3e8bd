"""Tests of the opensfx sources added for animals and real speech: the Qt .rcc reader (gcompris-qt-data),
their selection and licenses, the speech caption tables and the F0 measure that fills them."""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from opensfx import captions, licenses  # noqa: E402
from opensfx.debian import expand_archives  # noqa: E402
from opensfx.qt_rcc import RccError, RccReader, extract_rcc  # noqa: E402
from opensfx.selection import select_sources, sound_files  # noqa: E402
from opensfx.speaker_f0 import median_f0, reader_sex  # noqa: E402


def build_rcc(files: dict[tuple[str, int], tuple[bytes, bool]], version: int = 3) -> bytes:
    """A Qt binary resource in the layout rcc writes: files maps (path, language) -> (bytes, zlib?).

    Directories come first in breadth-first order with contiguous children, as in rcc.cpp.
    """
    tree: dict = {}
    for (path, language), content in files.items():
        node = tree
        *folders, name = path.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})
        node[(name, language)] = content
    names, data, nodes = bytearray(), bytearray(), []
    name_offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            encoded = name.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(encoded) // 2, 0) + encoded)
        return name_offsets[name]

    nodes.append(None)  # root, filled below
    queue = [(0, "", tree)]
    while queue:
        index, name, children = queue.pop(0)
        first = len(nodes)
        items = sorted(children.items(), key=lambda item: str(item[0]))
        nodes.extend([None] * len(items))
        nodes[index] = struct.pack(">IHII", name_offset(name) if index else 0, 2, len(items), first)
        for offset, (key, value) in enumerate(items, start=first):
            if isinstance(value, dict):
                queue.append((offset, key, value))
                continue
            (file_name, language), (content, compress) = key, value
            payload = struct.pack(">I", len(content)) + zlib.compress(content) if compress else content
            nodes[offset] = struct.pack(">IHHHI", name_offset(file_name), 1 if compress else 0, 0, language, len(data))
            data.extend(struct.pack(">I", len(payload)) + payload)
    suffix = b"" if version == 1 else struct.pack(">Q", 0)
    tree_bytes = b"".join(node + suffix for node in nodes)
    header_size = 20 + (4 if version >= 3 else 0)
    data_offset = header_size
    names_offset = data_offset + len(data)
    tree_offset = names_offset + len(names)
    header = b"qres" + struct.pack(">IIII", version, tree_offset, data_offset, names_offset)
    if version >= 3:
        header += struct.pack(">I", 1)
    return header + bytes(data) + bytes(names) + tree_bytes


FILES = {
    ("gcompris/src/activities/explore_farm_animals/resource/animals/dog.ogg", 0): (b"OggS-dog", False),
    ("gcompris/src/activities/memory-sound/resource/LRBark_1_LA_cut.ogg", 0): (b"OggS-bark", False),
    ("gcompris/src/activities/instruments/resource/drum_kit.ogg", 0): (b"OggS-drums", False),
    ("gcompris/src/activities/instruments/Instruments.qml", 0): (b"import QtQuick 2.12\n" * 20, True),
    ("gcompris/src/activities/lang/resource/hello.ogg", 31): (b"OggS-fr", False),
}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_reader_lists_and_reads_every_file(version: int) -> None:
    reader = RccReader(build_rcc(FILES, version))
    entries = {(e.path, e.language): e for e in reader.entries()}
    assert set(entries) == set(FILES)
    for key, (content, compressed) in FILES.items():
        assert bool(entries[key].flags & 1) == compressed
        assert reader.read(entries[key]) == content


def test_rcc_reader_rejects_other_files() -> None:
    with pytest.raises(RccError, match="magic"):
        RccReader(b"RIFF" + bytes(40))
    with pytest.raises(RccError, match="version 9"):
        RccReader(b"qres" + struct.pack(">IIII", 9, 20, 20, 20) + bytes(8))


def test_extract_rcc_writes_audio_only_with_locale_suffix(tmp_path: Path) -> None:
    rcc = tmp_path / "demo.rcc"
    rcc.write_bytes(build_rcc(FILES))
    written = extract_rcc(rcc, tmp_path / "out", (".ogg",))
    relative = sorted(str(p.relative_to(tmp_path / "out")) for p in written)
    assert len(relative) == 4 and not any(p.endswith(".qml") for p in relative)
    assert "gcompris/src/activities/lang/resource/hello.31_0.ogg" in relative
    dog = tmp_path / "out/gcompris/src/activities/explore_farm_animals/resource/animals/dog.ogg"
    assert dog.read_bytes() == b"OggS-dog"


def qt_rcc_tool() -> str | None:
    for candidate in ("rcc", "/usr/lib/qt6/libexec/rcc", "/usr/lib/x86_64-linux-gnu/qt5/bin/rcc"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.mark.skipif(qt_rcc_tool() is None, reason="Qt's rcc is not installed (qt6-base-dev-tools or qtbase5-dev-tools)")
@pytest.mark.parametrize("options", [
    ["--compress-algo", "zlib"], ["--format-version", "1", "--no-zstd"], ["--no-compress"],
])
def test_rcc_reader_reads_qt_rcc_output(tmp_path: Path, options: list[str]) -> None:
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "bark.ogg").write_bytes(b"OggS" + bytes(range(256)) * 8)
    (tmp_path / "notes.txt").write_bytes(b"compressible text " * 200)
    (tmp_path / "demo.qrc").write_text(
        '<RCC><qresource prefix="/"><file>sounds/bark.ogg</file><file>notes.txt</file></qresource></RCC>')
    subprocess.run([qt_rcc_tool(), "--binary", *options, "demo.qrc", "-o", "demo.rcc"], cwd=tmp_path, check=True)
    reader = RccReader.from_path(tmp_path / "demo.rcc")
    contents = {e.path: reader.read(e) for e in reader.entries()}
    assert contents == {"sounds/bark.ogg": (tmp_path / "sounds" / "bark.ogg").read_bytes(),
                        "notes.txt": (tmp_path / "notes.txt").read_bytes()}
    if options[0] != "--no-compress":
        assert any(e.flags & 1 for e in reader.entries())  # the text was zlib-compressed


def test_zstd_entry_without_zstandard_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = RccReader(build_rcc({("a.txt", 0): (b"abc", False)}))
    entry = reader.entries()[0]
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import fails as if not installed
    with pytest.raises(RccError, match="pip install zstandard"):
        reader.read(type(entry)(entry.path, entry.language, entry.territory, 4, entry.data_offset))


def test_gcompris_package_is_expanded_selected_and_licensed(tmp_path: Path) -> None:
    root = tmp_path / "gcompris-qt-data"
    rcc_dir = root / "usr/share/gcompris-qt/rcc"
    rcc_dir.mkdir(parents=True)
    (rcc_dir / "activities.rcc").write_bytes(build_rcc(FILES))
    expand_archives(root)
    sources = {Path(s.relpath).name: s for s in select_sources("gcompris-qt-data", root)}
    assert set(sources) == {"dog.ogg", "LRBark_1_LA_cut.ogg"}  # drum_kit.ogg: CC-sampling-plus, not free
    assert (sources["dog.ogg"].category, sources["dog.ogg"].license) == ("dog_bark", "GPL-3.0-only")
    assert (sources["LRBark_1_LA_cut.ogg"].category, sources["LRBark_1_LA_cut.ogg"].license) == ("dog_bark", "LAL-1.3")
    assert "/activities.rcc/gcompris/" in sources["dog.ogg"].relpath  # shown as archive/member
    assert licenses.license_for("gcompris-qt-data", "x/instruments/resource/drum_kit.ogg")[0] == "CC-sampling-plus-1.0"


def test_scratch_mp3_and_wav_media_are_selected(tmp_path: Path) -> None:
    animal = tmp_path / "usr/share/scratch/Media/Sounds/Animal"
    animal.mkdir(parents=True)
    for name in ("Cat.mp3", "Meow.wav", "Dog1.wav", "Unknown.wav"):
        (animal / name).write_bytes(b"")
    assert [p.name for p in sound_files(tmp_path)] == ["Cat.mp3", "Dog1.wav", "Meow.wav", "Unknown.wav"]
    by_name = {Path(s.relpath).name: s for s in select_sources("scratch", tmp_path)}
    categories = {name: source.category for name, source in by_name.items()}
    assert categories == {"Cat.mp3": "cat_meow", "Meow.wav": "cat_meow", "Dog1.wav": "dog_bark"}
    assert {s.license for s in by_name.values()} == {"CC-BY-SA-3.0"}


@pytest.mark.parametrize("relpath, category, caption", [
    ("usr/share/klettres/en/alpha/A.ogg", "male_speech", "a man saying a letter of the alphabet"),
    ("usr/share/klettres/en_GB/syllab/dog.ogg", "female_speech", "a woman saying a short word"),
    ("usr/share/klettres/fr/syllab/ad-3.ogg", "speech_french", "a man saying a syllable in French"),
    ("usr/share/klettres/nds/alpha/B.ogg", "speech_low_german", "a man saying a letter of the alphabet in Low German"),
])
def test_klettres_speech_captions(relpath: str, category: str, caption: str) -> None:
    rule = captions.match_rule("klettres-data", relpath)
    assert rule is not None and (rule.category, rule.caption) == (category, caption)
    assert licenses.is_free(licenses.license_for("klettres-data", relpath)[0])


def test_ambiguous_readers_are_left_out() -> None:
    assert captions.match_rule("klettres-data", "usr/share/klettres/pt_BR/alpha/A.ogg") is None  # 272 Hz: child-like
    assert captions.match_rule("klettres-data", "usr/share/klettres/nb/syllab/ba.ogg") is None  # no syllab reader
    assert captions.match_rule("ktuberling-data", "usr/share/ktuberling/sounds/en/hat.ogg") is None  # several readers
    assert captions.match_rule("ktuberling-data", "usr/share/ktuberling/sounds/uk/tux-bow.ogg") is None  # copy of bow.ogg
    rule = captions.match_rule("ktuberling-data", "usr/share/ktuberling/sounds/uk/hat.ogg")
    assert rule is not None and rule.category == "speech_ukrainian"


def voiced(f0_hz: float, seconds: float = 1.0, sample_rate: int = 16000) -> np.ndarray:
    """A vowel-like test signal: harmonics of f0_hz with falling amplitude, plus a little noise."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = sum(np.sin(2 * np.pi * k * f0_hz * t) / k for k in range(1, 8))
    return (0.3 * wave + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("f0_hz, sex", [
    (110.0, "man"), (140.0, "man"), (210.0, "woman"), (250.0, "woman"), (320.0, None),
])
def test_median_f0_and_reader_sex(f0_hz: float, sex: str | None) -> None:
    estimate = median_f0(voiced(f0_hz), 16000)
    assert abs(estimate - f0_hz) / f0_hz < 0.03, estimate
    assert reader_sex(estimate) == sex
    assert median_f0(np.zeros(16000, np.float32), 16000) == 0.0 and reader_sex(0.0) is None
