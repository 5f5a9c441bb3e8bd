"""Build the opensfx corpus: an audiofolder of captioned 16 kHz mono clips from Debian packages.

    python recipes/opensfx/build_corpus.py --out data/opensfx [--cache recipes/opensfx/cache]
        [--packages PKG ...] [--jobs 2] [--pack MAX_MIB PACK_OUT]

Writes OUT/clips/*.ogg, OUT/metadata.jsonl, OUT/ATTRIBUTION.md and OUT/stats.json (see README.md).
"""
from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from opensfx.audio import SAMPLE_RATE, ClipSettings, load_mono, make_clips, write_ogg  # noqa: E402
from opensfx.debian import ensure_package  # noqa: E402
from opensfx.selection import Source, select_sources  # noqa: E402
from opensfx.splits import pack, split_for_group, stable_hash, write_metadata  # noqa: E402
from opensfx.stats import write_attribution, write_stats  # noqa: E402
from opensfx.synth import SOUNDFONT, render_sources  # noqa: E402

log = logging.getLogger("opensfx")

PACKAGES = [
    "sound-theme-freedesktop",
    "tuxpaint-stamps-default",
    "hydrogen-drumkits",
    "hydrogen-drumkits-effects",
    "0ad-data",
    "openttd-opensfx",
    "supertuxkart-data",
    "hedgewars-data",
    "wesnoth-1.16-data",
    "megaglest-data",
    "minetest-data",
    "sonic-pi-samples",
    "gcompris-qt-data",  # sounds inside Qt resource files (qt_rcc.py)
    "scratch",
    "widelands-data",
    "klettres-data",  # real recorded speech: letters and syllables
    "ktuberling-data",  # real recorded speech: single words
    "asterisk-core-sounds-en-wav",  # real recorded speech: telephone prompts (8 kHz), one reader per language
    "asterisk-core-sounds-es-wav",
    "asterisk-core-sounds-fr-wav",
    "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-ru-wav",
    "minetest-mod-homedecor",  # household sounds: tap, toilet, shower, doors, doorbell
    "flare-game",  # environment loops: owl, raven, birds, river, rain, wind, fire, cave drips
    "kajongg",  # real recorded speech: Mah Jongg calls, English and German readers
    "csoundqt-examples",  # a few example recordings (speech, waves, instruments)
    "fluid-soundfont-gm",  # rendered through fluidsynth from MIDI written by synth.py
    "espeak-ng-data",  # speech rendered by the installed espeak-ng
]
SHORT_NAMES = {"sound-theme-freedesktop": "fdo", "tuxpaint-stamps-default": "tux", "fluid-soundfont-gm": "gm",
               "espeak-ng-data": "speech", "hydrogen-drumkits-effects": "h2fx", "hydrogen-drumkits": "h2",
               "wesnoth-1.16-data": "wesnoth", "gcompris-qt-data": "gcompris",
               **{f"asterisk-core-sounds-{lang}-wav": f"ast{lang}" for lang in ("en", "es", "fr", "it", "ru")}}


def clip_stem(source: Source) -> str:
    """Deterministic clip name stem: short package, category, hash of the source path."""
    short = SHORT_NAMES.get(source.package, re.sub(r"-data$", "", source.package).replace("-", ""))
    digest = f"{stable_hash(source.package + '/' + source.relpath):016x}"[:10]
    return f"{short}_{source.category}_{digest}"


def process_source(job: tuple[Source, str]) -> list[dict]:
    """Cut one source into clips under out/clips; return their metadata rows (no clips if unreadable)."""
    source, out = job
    try:
        audio = load_mono(source.path)
    except Exception as error:  # unreadable or exotic file: skip, the log says which
        logging.getLogger("opensfx").warning("skip %s: %s", source.path, error)
        return []
    rows = []
    split = split_for_group(source.group)
    for index, clip in enumerate(make_clips(audio, ClipSettings())):
        file_name = f"clips/{clip_stem(source)}_{index:02d}.ogg"
        write_ogg(Path(out) / file_name, clip)
        rows.append({
            "file_name": file_name,
            "caption": source.caption,
            "captions": list(source.captions),
            "category": source.category,
            "source_package": source.package,
            "source_file": source.relpath,
            "license": source.license,
            "duration_s": round(clip.size / SAMPLE_RATE, 3),
            "split": split,
        })
    return rows


def collect_sources(packages: list[str], cache: Path, jobs: int) -> list[Source]:
    """Download, unpack and caption every requested package; render the synthetic sources."""
    sources: list[Source] = []
    for package in packages:
        if package == "espeak-ng-data":
            sources += render_sources("speech", cache / "renders", None, jobs)
        elif package == "fluid-soundfont-gm":
            root = ensure_package(package, cache)
            sources += render_sources("gm", cache / "renders", root / SOUNDFONT, jobs)
        else:
            sources += select_sources(package, ensure_package(package, cache))
    return sorted(sources, key=lambda s: (s.package, s.relpath))


def build(out: Path, cache: Path, packages: list[str], jobs: int = 2) -> list[dict]:
    """Build the corpus into out (replacing out/clips); return the metadata rows."""
    sources = collect_sources(packages, cache, jobs)
    if (out / "clips").exists():
        shutil.rmtree(out / "clips")
    (out / "clips").mkdir(parents=True)
    rows: list[dict] = []
    work = [(source, str(out)) for source in sources]
    with Pool(jobs) as pool:
        for result in tqdm(pool.imap(process_source, work, chunksize=4), total=len(work), desc="clips", mininterval=5):
            rows.extend(result)
    write_metadata(rows, out / "metadata.jsonl")
    write_attribution(rows, out)
    stats = write_stats(rows, out)
    log.info("corpus %s: %d clips, %.2f h, %d categories", out, stats["clips"], stats["hours"], stats["categories"])
    return sorted(rows, key=lambda r: r["file_name"])


def build_pack(corpus: Path, pack_out: Path, max_mib: float) -> dict:
    """Write the size-bounded subset of corpus to pack_out, with its own stats and attribution."""
    from opensfx.splits import read_metadata

    summary = pack(corpus, pack_out, max_mib)
    rows = read_metadata(pack_out / "metadata.jsonl")
    write_attribution(rows, pack_out)
    write_stats(rows, pack_out)
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output audiofolder")
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parent / "cache",
                        help="downloads, unpacked packages and renders")
    parser.add_argument("--packages", nargs="+", default=PACKAGES, choices=PACKAGES, metavar="PKG",
                        help=f"sources to use (default: all): {' '.join(PACKAGES)}")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--pack", nargs=2, metavar=("MAX_MIB", "PACK_OUT"),
                        help="also write a category-stratified subset of at most MAX_MIB MiB to PACK_OUT")
    parser.add_argument("--pack-only", action="store_true", help="skip the build; only pack an existing --out")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.pack_only:
        build(args.out, args.cache, args.packages, args.jobs)
    if args.pack:
        build_pack(args.out, Path(args.pack[1]), float(args.pack[0]))


if __name__ == "__main__":
    main()
