"""Read a captioned audio dataset: an audiofolder or a manifest file, into a list of :class:`Clip`.

Two layouts (see ``docs/data.md``):

* **audiofolder** (Hugging Face's layout): a folder with ``metadata.jsonl`` or
  ``metadata.csv`` whose rows name a ``file_name`` relative to the folder and a
  ``caption`` (``text`` is accepted as an alias);
* **manifest**: a ``.jsonl`` (or ``.csv``) file of ``{"path": ..., "caption": ...}``
  rows, paths absolute or relative to the manifest's folder.

Optional columns: ``captions`` (a list of paraphrases; in CSV a JSON list) and
``split`` (``train`` or ``validation``).  Other columns are ignored.  Rows whose
file is missing or whose caption is empty, JSONL lines that are not UTF-8, and rows
repeating an earlier row (same file, no new caption) are skipped and named in one warning;
a row naming an earlier row's file with a new caption adds it to that clip's paraphrases.

An audiofolder may come from anyone: a row whose path leaves the folder (``../..``, an
absolute path, a symlink pointing outside) is refused (skipped and named).  A manifest
file is a list its author chose, so its paths may point anywhere.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InvalidArgumentError
from .report import Skipped, describe_skipped, warn_skipped

log = logging.getLogger(__name__)

METADATA_FILES = ("metadata.jsonl", "metadata.csv")
FILE_KEYS = ("file_name", "path")
CAPTION_KEYS = ("caption", "text")
SPLITS = {"train": "train", "validation": "validation", "valid": "validation", "val": "validation"}
EXPECTED_LAYOUT = (
    "Expected a folder of audio files with metadata.jsonl or metadata.csv (columns file_name and caption), "
    'or a .jsonl manifest of {"path": ..., "caption": ...} lines; see docs/data.md.'
)


@dataclass(frozen=True)
class Clip:
    """One captioned audio file.

    Attributes:
        path: the audio file (absolute, or as resolved against the dataset folder).
        caption: the main caption, non-empty.
        captions: paraphrases including ``caption`` (always first, no duplicates); filled
            with ``(caption,)`` when not given.
        split: ``"train"``, ``"validation"`` or ``None`` (decided by :func:`~audiodiff.data.split.split_clips`).
        name: the file as the dataset names it (``file_name`` or ``path`` column); defaults to
            ``path.name``.  Stable across machines, so caches and split lists key on it.
    """

    path: Path
    caption: str
    captions: tuple[str, ...] = ()
    split: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "captions", tuple(dict.fromkeys((self.caption, *self.captions))))
        if not self.name:
            object.__setattr__(self, "name", self.path.name)


def read_dataset(path: str | Path) -> list[Clip]:
    """Clips of an audiofolder (a folder) or a manifest (a ``.jsonl``/``.csv`` file), in file order.

    Raises:
        InvalidArgumentError: ``path`` is neither layout, a row is malformed (bad JSON, unknown
            ``split``), or no row is usable; the message names the file and the expected layout.
    """
    return read_clips(path)[0]


def read_clips(path: str | Path) -> tuple[list[Clip], list[Skipped]]:
    """:func:`read_dataset`, also returning the rows it skipped (each with its reason).

    Raises:
        InvalidArgumentError: as :func:`read_dataset`.
    """
    path = Path(path)
    metadata = find_metadata(path)
    rows = read_rows(metadata)
    confine_to = metadata.parent.resolve() if path.is_dir() else None
    clips, skipped, seen = [], [], {}
    for number, row in enumerate(rows, start=1):
        where = f"{metadata}, row {number}"
        result = row if isinstance(row, Skipped) else clip_from_row(row, metadata.parent, where, confine_to)
        if isinstance(result, Clip):
            key = result.path.resolve()
            if key in seen:  # the same file again: its new captions join the first row's as paraphrases
                first, first_number = seen[key]
                extra = tuple(c for c in result.captions if c not in clips[first].captions)
                clips[first] = replace(clips[first], captions=clips[first].captions + extra)
                if not extra:
                    skipped.append(Skipped(result.name, f"duplicate of row {first_number}"))
                continue
            seen[key] = (len(clips), number)
        (skipped if isinstance(result, Skipped) else clips).append(result)
    warn_skipped(log, skipped, len(rows), f"rows of {metadata}")
    if not clips:
        detail = f": {describe_skipped(skipped)}" if skipped else " (it has no rows)"
        raise InvalidArgumentError(f"No usable clip in {metadata}{detail}. {EXPECTED_LAYOUT}")
    return clips, skipped


def find_metadata(path: Path) -> Path:
    """The metadata file of a dataset: ``path`` itself, or the folder's ``metadata.jsonl``/``metadata.csv``."""
    if path.is_file():
        if path.suffix not in (".jsonl", ".csv"):
            raise InvalidArgumentError(f"Manifest {path} must be a .jsonl or .csv file. {EXPECTED_LAYOUT}")
        return path
    if not path.is_dir():
        raise InvalidArgumentError(f"Dataset {path} does not exist. {EXPECTED_LAYOUT}")
    found = [path / name for name in METADATA_FILES if (path / name).is_file()]
    if not found:
        raise InvalidArgumentError(f"Dataset folder {path} has no metadata.jsonl or metadata.csv. {EXPECTED_LAYOUT}")
    if len(found) > 1:
        log.warning("%s has both metadata.jsonl and metadata.csv; reading %s.", path, found[0].name)
    return found[0]


def read_rows(metadata: Path) -> list[dict | Skipped]:
    """The rows of a ``.jsonl`` file (one JSON object per non-blank line) or a ``.csv`` file with a header.

    Text is UTF-8 (a byte-order mark is allowed; a UTF-16 file with its BOM is read too).  A JSONL line
    or CSV record that is not UTF-8 becomes a :class:`Skipped` row naming its line.

    Raises:
        InvalidArgumentError: a JSONL line is not a JSON object, or a CSV header is not UTF-8 (names the file).
    """
    data = metadata.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = data.decode("utf-16").encode("utf-8")
    if metadata.suffix == ".csv":
        return _read_csv_rows(metadata, data)
    rows: list[dict | Skipped] = []
    for number, raw in enumerate(data.removeprefix(codecs.BOM_UTF8).split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            rows.append(Skipped(f"{metadata}, line {number}", "not UTF-8; save the file as UTF-8"))
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidArgumentError(f"{metadata}, line {number} is not JSON ({error}); fix or remove it.") from error
        if not isinstance(row, dict):
            raise InvalidArgumentError(
                f'{metadata}, line {number} is not a JSON object; expected {{"path": ..., "caption": ...}}.'
            )
        rows.append(row)
    return rows


def _read_csv_rows(metadata: Path, data: bytes) -> list[dict | Skipped]:
    """CSV records with a header; a record holding bytes that are not UTF-8 becomes a :class:`Skipped` row."""
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad record cannot hide the others
    text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if any(_not_utf8(name) for name in reader.fieldnames or ()):
        raise InvalidArgumentError(f"{metadata}, line 1 (the header) is not UTF-8; save the file as UTF-8.")
    rows: list[dict | Skipped] = []
    for row in reader:
        if any(_not_utf8(value) for value in row.values()):
            rows.append(Skipped(f"{metadata}, line {reader.line_num}", "not UTF-8; save the file as UTF-8"))
        else:
            rows.append(row)
    return rows


def _not_utf8(value: object) -> bool:
    """Whether a value read with ``errors="surrogateescape"`` held bytes that are not UTF-8."""
    values = value if isinstance(value, list) else [value]  # DictReader puts surplus fields in a list
    return any(isinstance(v, str) and any("\udc80" <= ch <= "\udcff" for ch in v) for v in values)


def clip_from_row(row: dict, root: Path, where: str, confine_to: Path | None = None) -> Clip | Skipped:
    """A :class:`Clip` from one metadata row, or the :class:`Skipped` reason (no file, file missing, empty
    caption, a path outside ``confine_to``).

    Args:
        confine_to: when given (a resolved folder), the file, symlinks followed, must lie inside it.

    Raises:
        InvalidArgumentError: ``split`` is set to something other than train/validation.
    """
    name = str(_first(row, FILE_KEYS) or "").strip()
    if not name:
        return Skipped(where, "no file_name or path")
    path = root / name  # an absolute name replaces root
    try:
        if confine_to is not None and not path.resolve().is_relative_to(confine_to):
            return Skipped(name, "outside the dataset folder: refused")
        if not path.is_file():
            return Skipped(name, "file missing")
    except (OSError, ValueError) as error:  # embedded NUL, name too long, symlink loop
        return Skipped(name[:200], f"invalid path ({getattr(error, 'strerror', None) or error})")
    captions = _captions(row)
    if not captions:
        return Skipped(name, "empty caption")
    return Clip(path=path, caption=captions[0], captions=captions[1:], split=_split(row, where), name=name)


def _first(row: dict, keys: tuple[str, ...]) -> object:
    return next((row[key] for key in keys if row.get(key) not in (None, "")), None)


def _captions(row: dict) -> tuple[str, ...]:
    """Main caption first, then paraphrases; blanks dropped.  CSV paraphrases are a JSON list."""
    paraphrases = row.get("captions") or []
    if isinstance(paraphrases, str):
        try:
            paraphrases = json.loads(paraphrases)
        except json.JSONDecodeError:
            paraphrases = [paraphrases]
        paraphrases = paraphrases if isinstance(paraphrases, list) else [paraphrases]
    texts = [str(_first(row, CAPTION_KEYS) or ""), *map(str, paraphrases)]
    return tuple(dict.fromkeys(text.strip() for text in texts if text.strip()))


def _split(row: dict, where: str) -> str | None:
    value = str(row.get("split") or "").strip().lower()
    if not value:
        return None
    if value not in SPLITS:
        raise InvalidArgumentError(f"{where}: split {row['split']!r} is not one of train, validation.")
    return SPLITS[value]
