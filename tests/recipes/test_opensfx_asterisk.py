"""Tests of the real-speech sources added after sitting 2: asterisk-core-sounds-<lang>-wav (telephone
prompts), kajongg (Mah Jongg calls) and csoundqt-examples: which files are selected, their captions,
categories and licenses, on tiny synthetic package trees (no network)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))

from opensfx import build_corpus, captions, licenses  # noqa: E402
from opensfx.selection import select_sources  # noqa: E402


def make_package(root: Path, folder: str, names: list[str]) -> None:
    """Empty files under usr/share/asterisk/sounds/<folder>/ (selection only looks at paths)."""
    base = root / "usr/share/asterisk/sounds" / folder
    for name in names:
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(b"")


ENGLISH = [
    "vm-goodbye.wav", "activated.wav", "dictate/pause.wav", "digits/1.wav", "digits/h-10.wav", "digits/day-0.wav",
    "letters/a.wav", "letters/dash.wav", "phonetic/a_p.wav",
    # not speech: left out
    "beep.wav", "beeperr.wav", "ascending-2tone.wav", "confbridge-join.wav", "tt-monkeys.wav", "vm-intro.wav",
    "silence/1.wav",
]


def test_english_prompts_are_selected_and_captioned(tmp_path: Path) -> None:
    make_package(tmp_path, "en_US_f_Allison", ENGLISH)
    sources = {s.relpath.split("en_US_f_Allison/")[1]: s for s in select_sources("asterisk-core-sounds-en-wav", tmp_path)}
    assert set(sources) == {"vm-goodbye.wav", "activated.wav", "dictate/pause.wav", "digits/1.wav", "digits/h-10.wav",
                            "digits/day-0.wav", "letters/a.wav", "letters/dash.wav", "phonetic/a_p.wav"}
    assert {s.category for s in sources.values()} == {"female_speech"}
    assert {s.license for s in sources.values()} == {"CC-BY-SA-3.0"}
    captions_by_name = {name: s.caption for name, s in sources.items()}
    assert captions_by_name["vm-goodbye.wav"] == "a woman speaking"
    assert captions_by_name["digits/1.wav"] == captions_by_name["digits/h-10.wav"] == "a woman saying a number"
    assert captions_by_name["digits/day-0.wav"] == "a woman speaking"  # a weekday, not a number
    assert captions_by_name["letters/a.wav"] == "a woman saying a letter of the alphabet"
    assert captions_by_name["letters/dash.wav"] == "a woman speaking"  # a symbol name, not a letter
    assert captions_by_name["phonetic/a_p.wav"] == "a woman saying a word of the phonetic alphabet"
    assert all("a woman speaking" in s.captions for s in sources.values())


@pytest.mark.parametrize("lang, folder, category, caption, license_id", [
    ("es", "es_MX_f_Allison", "speech_spanish", "a woman speaking Spanish", "CC-BY-SA-3.0"),
    ("fr", "fr_CA_f_June", "speech_french", "a woman speaking French", "CC-BY-SA-3.0"),
    ("it", "it_IT_m_Carlo", "speech_italian", "a person speaking Italian", "CC-BY-3.0"),  # F0 ambiguous: no sex named
    ("ru", "ru_RU_f_IvrvoiceRU", "speech_russian", "a woman speaking Russian", "CC-BY-3.0"),
])
def test_other_languages_take_only_voicemail_prompts(tmp_path: Path, lang: str, folder: str, category: str,
                                                     caption: str, license_id: str) -> None:
    make_package(tmp_path, folder, ["vm-goodbye.wav", "vm-intro.wav", "activated.wav", "digits/1.wav", "beep.wav"])
    sources = select_sources(f"asterisk-core-sounds-{lang}-wav", tmp_path)
    assert [Path(s.relpath).name for s in sources] == ["vm-goodbye.wav"]
    assert (sources[0].category, sources[0].caption, sources[0].license) == (category, caption, license_id)


def test_rules_do_not_leak_between_languages() -> None:
    assert captions.match_rule("asterisk-core-sounds-en-wav", "usr/share/asterisk/sounds/fr_CA_f_June/vm-goodbye.wav") is None
    assert captions.match_rule("asterisk-core-sounds-es-wav", "usr/share/asterisk/sounds/es_MX_f_Allison/silence/vm-x.wav") is None


def test_asterisk_packages_are_built_with_distinct_short_names() -> None:
    packages = [f"asterisk-core-sounds-{lang}-wav" for lang in captions.ASTERISK_READERS]
    assert all(p in build_corpus.PACKAGES and licenses.is_free(licenses.PACKAGES[p].license) for p in packages)
    short = [build_corpus.SHORT_NAMES[p] for p in packages]
    assert len(set(short)) == len(short) and not set(short) & {v for k, v in build_corpus.SHORT_NAMES.items() if k not in packages}


def test_kajongg_voices_are_read_speech_despite_the_voices_exclusion(tmp_path: Path) -> None:
    voices = tmp_path / "usr/share/kajongg/voices"
    for name in ("male1/b1.ogg", "male2/b1.ogg", "female2/pung.ogg", "de/male1/we.ogg", "de/female1/we.ogg", "male2/md5sum"):
        (voices / name).parent.mkdir(parents=True, exist_ok=True)
        (voices / name).write_bytes(b"")
    sources = {s.relpath.split("voices/")[1]: s for s in select_sources("kajongg", tmp_path)}
    assert set(sources) == {"male2/b1.ogg", "female2/pung.ogg", "de/male1/we.ogg"}  # male1, de/female1: F0 ambiguous
    assert (sources["male2/b1.ogg"].category, sources["male2/b1.ogg"].caption) == ("male_speech", "a man saying a short phrase")
    assert sources["female2/pung.ogg"].category == "female_speech"
    assert (sources["de/male1/we.ogg"].category, sources["de/male1/we.ogg"].caption) == (
        "speech_german", "a man saying a short phrase in German")
    assert {s.license for s in sources.values()} == {"GPL-2.0-or-later"}
    # the exemption is kajongg's alone: other packages' voices/ folders stay excluded
    assert captions.match_rule("0ad-data", "audio/actor/fauna/animal/horse_1.ogg") is not None
    assert captions.match_rule("0ad-data", "audio/voice/fauna/animal/horse_1.ogg") is None


def test_csoundqt_examples_named_sounds_only(tmp_path: Path) -> None:
    folder = tmp_path / "usr/share/csoundqt/Examples/SourceMaterials"
    folder.mkdir(parents=True)
    for name in ("fox.wav", "Seashore.wav", "808loop.wav", "808loopMono.wav", "ClassGuit.wav", "ClassicalGuitar.wav", "sample.wav"):
        (folder / name).write_bytes(b"")
    sources = {Path(s.relpath).name: s for s in select_sources("csoundqt-examples", tmp_path)}
    assert set(sources) == {"fox.wav", "Seashore.wav", "808loopMono.wav", "ClassicalGuitar.wav"}
    assert (sources["fox.wav"].category, sources["fox.wav"].caption) == ("male_speech", "a man speaking")
    assert sources["Seashore.wav"].category == "ocean_waves"
    assert {s.license for s in sources.values()} == {"LGPL-2.1-or-later"}


def test_homedecor_household_sounds(tmp_path: Path) -> None:
    mods = tmp_path / "usr/share/games/minetest/mods/homedecor"
    for name in ("homedecor_bathroom/sounds/homedecor_toilet_flush.ogg", "homedecor_electrical/sounds/homedecor_doorbell.ogg",
                 "homedecor_common/sounds/homedecor_faucet.ogg", "homedecor_gastronomy/sounds/toaster.ogg"):
        (mods / name).parent.mkdir(parents=True, exist_ok=True)
        (mods / name).write_bytes(b"")
    sources = {Path(s.relpath).name: s for s in select_sources("minetest-mod-homedecor", tmp_path)}
    assert {name: s.category for name, s in sources.items()} == {
        "homedecor_toilet_flush.ogg": "toilet_flush", "homedecor_doorbell.ogg": "doorbell", "homedecor_faucet.ogg": "water_running"}
    assert {s.license for s in sources.values()} == {"CC-BY-SA-4.0"}


def test_flare_environment_loops(tmp_path: Path) -> None:
    env = tmp_path / "usr/share/games/flare/mods/fantasycore/soundfx/environment"
    env.mkdir(parents=True)
    for name in ("forest_owl_loop.ogg", "open_fire_loop.ogg", "open_fire.ogg", "teleporter.ogg", "cave_wind_loop.ogg"):
        (env / name).write_bytes(b"")
    sources = {Path(s.relpath).name: s.category for s in select_sources("flare-game", tmp_path)}
    assert sources == {"forest_owl_loop.ogg": "owl", "open_fire_loop.ogg": "fire_crackle", "cave_wind_loop.ogg": "wind"}
