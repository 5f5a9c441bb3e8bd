"""Read Qt binary resource files (.rcc, as written by `rcc --binary`), e.g. gcompris-qt-data's.

Format (Qt's src/tools/rcc/rcc.cpp, RCCResourceLibrary::writeHeader/writeDataStructure; all
integers big-endian):

- header: magic b"qres", uint32 format version (1, 2 or 3), uint32 offsets of the tree, the data
  and the names sections; version >= 3 adds a uint32 of overall flags.
- tree: nodes of 14 bytes (version 1) or 22 bytes (version >= 2: a trailing uint64 modification
  time in ms). A node is uint32 name offset, uint16 flags (1 zlib, 2 directory, 4 zstd), then
  for a directory uint32 child count + uint32 index of the first child node, for a file uint16
  territory + uint16 language + uint32 data offset. Node 0 is the root directory.
- names: at each name offset, uint16 length in UTF-16 code units, uint32 hash, UTF-16-BE text.
- data: at each data offset, uint32 size and the bytes; zlib entries are qCompress output
  (uint32 uncompressed size, then a zlib stream), zstd entries are one zstd frame.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"qres"
FLAG_COMPRESSED = 0x01
FLAG_DIRECTORY = 0x02
FLAG_COMPRESSED_ZSTD = 0x04


@dataclass(frozen=True)
class RccEntry:
    """One file of a resource tree. path: '/'-joined names below the root; language and territory:
    QLocale enum values (0 = any) of a locale-specific variant; flags: the node's compression flags."""

    path: str
    language: int
    territory: int
    flags: int
    data_offset: int


class RccError(ValueError):
    """The bytes are not a Qt binary resource file this reader understands."""


class RccReader:
    """Random access to the files of one .rcc held in memory.

    Raises RccError on a bad magic, an unknown version or offsets outside the file.
    """

    def __init__(self, data: bytes) -> None:
        if data[:4] != MAGIC:
            raise RccError(f"not a Qt binary resource file: magic {data[:4]!r}, expected {MAGIC!r}")
        self.data = data
        self.version, self.tree_offset, self.data_offset, self.names_offset = struct.unpack_from(">IIII", data, 4)
        if self.version not in (1, 2, 3):
            raise RccError(f"unsupported rcc format version {self.version} (this reader knows 1-3)")
        if max(self.tree_offset, self.data_offset, self.names_offset) >= len(data):
            raise RccError(f"rcc section offsets point past the end of the {len(data)}-byte file")
        self.node_size = 14 if self.version == 1 else 22

    @classmethod
    def from_path(cls, path: Path) -> RccReader:
        """Reader over the whole file at path."""
        return cls(Path(path).read_bytes())

    def _name(self, name_offset: int) -> str:
        at = self.names_offset + name_offset
        (length,) = struct.unpack_from(">H", self.data, at)
        return self.data[at + 6 : at + 6 + 2 * length].decode("utf-16-be")

    def entries(self) -> list[RccEntry]:
        """Every file in the tree (depth first, in the tree's own order, which rcc sorts by name hash)."""
        found: list[RccEntry] = []
        stack = [(0, "")]
        while stack:
            index, prefix = stack.pop()
            at = self.tree_offset + index * self.node_size
            name_offset, flags = struct.unpack_from(">IH", self.data, at)
            name = self._name(name_offset) if index else ""
            path = f"{prefix}/{name}" if prefix else name
            if flags & FLAG_DIRECTORY:
                count, first = struct.unpack_from(">II", self.data, at + 6)
                stack.extend((child, path) for child in reversed(range(first, first + count)))
            else:
                territory, language, data_offset = struct.unpack_from(">HHI", self.data, at + 6)
                found.append(RccEntry(path, language, territory, flags, data_offset))
        return found

    def read(self, entry: RccEntry) -> bytes:
        """The uncompressed bytes of one file. Raises RccError for zstd entries without `zstandard`."""
        at = self.data_offset + entry.data_offset
        (size,) = struct.unpack_from(">I", self.data, at)
        payload = self.data[at + 4 : at + 4 + size]
        if entry.flags & FLAG_COMPRESSED:
            return zlib.decompress(payload[4:])  # qCompress: 4-byte expected size, then zlib
        if entry.flags & FLAG_COMPRESSED_ZSTD:
            try:
                import zstandard
            except ImportError as error:
                raise RccError(f"{entry.path} is zstd-compressed: pip install zstandard to read it") from error
            return zstandard.ZstdDecompressor().decompress(payload, max_output_size=64 << 20)
        return payload


def extract_rcc(rcc: Path, target: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Write the files of rcc whose names end with one of suffixes (lower-case) under target/.

    Locale-specific variants (language other than 0 "any" or 1 "C") get `.<language>_<territory>`
    before the suffix.
    Returns the written paths, sorted; existing files are not rewritten.
    """
    reader = RccReader.from_path(rcc)
    written = []
    for entry in reader.entries():
        if not entry.path.lower().endswith(suffixes):
            continue
        relative = Path(entry.path)
        if entry.language > 1:
            relative = relative.with_name(f"{relative.stem}.{entry.language}_{entry.territory}{relative.suffix}")
        out = target / relative
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(reader.read(entry))
        written.append(out)
    return sorted(written)
