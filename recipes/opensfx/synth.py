"""Synthetic sources with exact captions: General MIDI renders (fluidsynth) and speech (espeak-ng).

Both write WAV files into cache/renders/ and return Source records like real package files.
MIDI times are in ticks (PPQ ticks per quarter note); tempo in beats per minute; velocity 1-127.
"""
from __future__ import annotations

import logging
import random
import shutil
import struct
import subprocess
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from opensfx.gm_names import EFFECT_PROGRAMS, PERCUSSION, PROGRAMS, article
from opensfx.licenses import license_for
from opensfx.selection import Source

log = logging.getLogger(__name__)

PPQ = 480
DRUM_CHANNEL = 9
SOUNDFONT = "usr/share/sounds/sf2/FluidR3_GM.sf2"  # inside the unpacked fluid-soundfont-gm package

Note = tuple[float, float, int, int]  # (start beat, length in beats, MIDI key, velocity)


def _var_len(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: list[Note], program: int, tempo_bpm: float, channel: int = 0, tail_beats: float = 2.0) -> bytes:
    """A format-0 Standard MIDI File playing `notes` with one program, then `tail_beats` of silence."""
    events: list[tuple[int, bytes]] = [(0, bytes([0xFF, 0x51, 3]) + int(60e6 / tempo_bpm).to_bytes(3, "big"))]
    if channel != DRUM_CHANNEL:
        events.append((0, bytes([0xC0 | channel, program])))
    for start, length, key, velocity in notes:
        events.append((int(start * PPQ), bytes([0x90 | channel, key, velocity])))
        events.append((int((start + length) * PPQ), bytes([0x80 | channel, key, 0])))
    end = max((int((s + l) * PPQ) for s, l, _, _ in notes), default=0) + int(tail_beats * PPQ)
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))  # note-offs before note-ons at equal times
    track, now = b"", 0
    for tick, data in events:
        track += _var_len(tick - now) + data
        now = tick
    track += _var_len(end - now) + bytes([0xFF, 0x2F, 0])
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ) + b"MTrk" + struct.pack(">I", len(track)) + track


@dataclass(frozen=True)
class Render:
    """One synthetic source: what to render, where, and how to caption it."""

    name: str  # relative path under renders/, without suffix
    category: str
    captions: tuple[str, ...]
    midi: bytes = b""
    speech: tuple[str, str, int] = ("", "", 0)  # (voice, text, words per minute)


REGISTERS = {"low": 0, "mid": 1, "high": 2}


def program_keys(program: int) -> tuple[int, int, int]:
    """(low, mid, high) MIDI keys that sit well in the range of a GM program."""
    if 32 <= program <= 39 or program in (43, 58, 70, 87):
        return 31, 40, 52
    if program in (41, 42, 57, 67, 71):
        return 43, 55, 64
    if program in (72, 73, 74, 75, 79, 9, 10, 13, 112):
        return 67, 79, 88
    return 48, 60, 72


def melody(rng: random.Random, root: int, count: int, step: float) -> list[Note]:
    """A stepwise major-scale melody of `count` notes, each `step` beats long."""
    scale = [0, 2, 4, 5, 7, 9, 11, 12, 14]
    degree, notes = 2, []
    for i in range(count):
        degree = min(len(scale) - 1, max(0, degree + rng.choice([-2, -1, -1, 1, 1, 2])))
        notes.append((i * step, step * 0.9, root + scale[degree], rng.randint(70, 100)))
    return notes


def gm_program_renders(program: int) -> list[Render]:
    """Notes in three registers at two loudness levels, two chords, an arpeggio, six melodies and two pieces."""
    category, noun = PROGRAMS[program]
    a = f"{article(noun)} {noun}"
    low, mid, high = program_keys(program)
    out: list[Render] = []
    base = f"gm/p{program:03d}"
    if program in EFFECT_PROGRAMS:
        category, caption, paraphrases = EFFECT_PROGRAMS[program]
        for i, key in enumerate((48, 60, 72)):
            out.append(Render(f"{base}_effect{i}", category, (caption, *paraphrases), midi_bytes([(0, 3, key, 100)], program, 60)))
        return out
    for register, key in zip(REGISTERS, (low, mid, high)):
        for velocity, loudness in ((50, "soft"), (110, "loud")):
            caps = (f"a {loudness} {register} {noun} note", f"{a} playing a single {register} note", f"one {register} note on {a}")
            out.append(Render(f"{base}_note_{register}_{loudness}", category, caps, midi_bytes([(0, 2, key, velocity)], program, 60)))
    for chord_name, intervals in (("major", (0, 4, 7)), ("minor", (0, 3, 7, 10))):
        notes = [(0, 3, mid + i, 90) for i in intervals]
        caps = (f"{a} playing a {chord_name} chord", f"{a} chord", f"a {chord_name} chord played on {a}")
        out.append(Render(f"{base}_chord_{chord_name}", category, caps, midi_bytes(notes, program, 60)))
    arpeggio = [(i * 0.5, 0.5, mid + k, 85) for i, k in enumerate((0, 4, 7, 12, 7, 4, 0))]
    out.append(Render(f"{base}_arpeggio", category, (f"{a} playing an arpeggio", f"{a} arpeggiating a chord"), midi_bytes(arpeggio, program, 100)))
    rng = random.Random(program)
    for tempo, speed, count, step in ((72, "slow", 8, 1.0), (110, "medium", 12, 0.5), (160, "fast", 16, 0.5)):
        for scale_velocity, loudness in ((0.6, "quiet"), (1.2, "loud")):
            notes = [(s, l, k, min(127, int(v * scale_velocity))) for s, l, k, v in melody(rng, mid, count, step)]
            caps = (f"{a} playing a short {speed} melody", f"a {loudness} {speed} {noun} melody", f"{a} playing a {speed} tune {'softly' if loudness == 'quiet' else 'loudly'}")
            out.append(Render(f"{base}_melody_{speed}_{loudness}", category, caps, midi_bytes(notes, program, tempo)))
    for tempo, speed in ((80, "slow"), (120, "lively")):
        tune = melody(rng, mid + 12 if mid < 72 else mid, 24, 0.5)
        chords = [(bar * 4.0, 4.0, mid + i - 12, 60) for bar, root in enumerate((0, 5, 7)) for i in (root, root + 4, root + 7)]
        caps = (f"{a} playing a {speed} melody over chords", f"a {speed} tune with chords on {a}", f"{a} playing a short {speed} piece")
        out.append(Render(f"{base}_piece_{speed}", category, caps, midi_bytes(sorted(tune + chords), program, tempo)))
    return out


DRUM_BEATS = {
    "rock": ("a drum kit playing a rock beat", [(0, 36), (1, 38), (2, 36), (2.5, 36), (3, 38)], 42, 0.5),
    "disco": ("a drum kit playing a disco beat", [(0, 36), (1, 36), (1, 38), (2, 36), (3, 36), (3, 38)], 46, 0.5),
    "shuffle": ("a drum kit playing a shuffle groove", [(0, 36), (1, 38), (2, 36), (3, 38)], 42, 1 / 3),
    "latin": ("latin percussion playing a rhythm", [(0, 64), (0.5, 63), (1, 62), (1.5, 63), (2, 64), (3, 60), (3.5, 61)], 70, 0.5),
}


def gm_percussion_renders() -> list[Render]:
    """Every GM percussion key at two velocities, and drum-kit grooves at three tempi."""
    out: list[Render] = []
    for key, (category, caption) in sorted(PERCUSSION.items()):
        for velocity, loudness in ((60, "soft"), (120, "hard")):
            caps = (caption, f"a {loudness} {caption.split(' ', 1)[1] if caption.startswith(('a ', 'an ')) else caption}")
            out.append(Render(f"gm/drum{key:02d}_{loudness}", category, caps, midi_bytes([(0, 1, key, velocity)], 0, 60, DRUM_CHANNEL)))
    for style, (caption, pattern, pulse_key, pulse) in DRUM_BEATS.items():
        for tempo, speed in ((80, "slow"), (110, "medium"), (140, "fast")):
            notes = [(bar * 4 + beat, 0.25, key, 110) for bar in range(3) for beat, key in pattern]
            notes += [(i * pulse, 0.25, pulse_key, 70) for i in range(int(12 / pulse))]
            caps = (caption, f"{caption} at a {speed} tempo", f"a {speed} {style} drum groove")
            category = "latin_percussion" if style == "latin" else "drum_beat"
            out.append(Render(f"gm/beat_{style}_{tempo}", category, caps, midi_bytes(notes, 0, tempo, DRUM_CHANNEL, 1.0)))
    return out


SENTENCES = [
    "The weather is lovely today.", "Please close the door behind you.", "Where did you put my keys?",
    "I will meet you at the station at six.", "The train to the city leaves in ten minutes.",
    "Can you hear the birds outside?", "Turn left at the next corner.", "This coffee is far too hot.",
    "We are going to the beach tomorrow.", "Thank you very much for your help.",
    "The meeting has been moved to Friday.", "Do not forget to water the plants.",
    "My brother plays the guitar in a band.", "It is going to rain later this afternoon.",
    "Welcome aboard, please take your seats.", "Attention please, the store will close soon.",
    "One, two, three, four, five.", "Have you seen the new film yet?",
    "Dinner is ready, come to the table.", "The library opens at nine in the morning.",
    "Warning, the system is shutting down.", "I think we should take the long way home.",
    "She sells sea shells by the sea shore.", "Hello, how are you doing today?",
]

# (variant suffix, category, caption, paraphrases); variants of /usr/lib/*/espeak-ng-data/voices/!v
SPEECH_VARIANTS = (
    [(f"m{i}", "male_speech", "a man speaking", ("a male voice talking", "a man saying a sentence")) for i in range(1, 8)]
    + [(f"f{i}", "female_speech", "a woman speaking", ("a female voice talking", "a woman saying a sentence")) for i in range(1, 6)]
    + [("whisper", "whispering", "a man whispering", ("someone whispering quietly", "a whispered sentence"))]
    + [("whisperf", "whispering", "a woman whispering", ("someone whispering quietly", "a whispered sentence"))]
    + [(f"robosoft{i}", "robotic_voice", "a robotic voice speaking", ("a synthetic computer voice talking", "a robot speaking")) for i in (1, 3, 5)]
)
ACCENTS = {"en-us": "American", "en": "British", "en-gb-scotland": "Scottish", "en-029": "Caribbean"}
FOREIGN = {
    "de": ("German", ["Das Wetter ist heute schön.", "Wo ist der Bahnhof?", "Ich habe keine Zeit.", "Guten Morgen, wie geht es dir?", "Der Zug fährt um acht Uhr ab."]),
    "fr": ("French", ["Il fait beau aujourd'hui.", "Où est la gare?", "Je voudrais un café, s'il vous plaît.", "Bonjour, comment allez-vous?", "Nous partons demain matin."]),
    "es": ("Spanish", ["Hace buen tiempo hoy.", "¿Dónde está la estación?", "Muchas gracias por tu ayuda.", "Buenos días, ¿cómo estás?", "Mañana vamos a la playa."]),
    "it": ("Italian", ["Oggi fa bel tempo.", "Dov'è la stazione?", "Grazie mille per l'aiuto.", "Buongiorno, come stai?", "Domani andiamo al mare."]),
    "pt": ("Portuguese", ["O tempo está bonito hoje.", "Onde fica a estação?", "Muito obrigado pela ajuda.", "Bom dia, como vai?", "Amanhã vamos à praia."]),
    "nl": ("Dutch", ["Het weer is mooi vandaag.", "Waar is het station?", "Dank je wel voor je hulp.", "Goedemorgen, hoe gaat het?", "Morgen gaan we naar het strand."]),
}


def speech_renders(sentences_per_voice: int = 14) -> list[Render]:
    """English sentences in accents x voice variants, plus six other languages (male and female voices)."""
    out: list[Render] = []
    rng = random.Random(1234)
    for accent, accent_name in ACCENTS.items():
        for variant, category, caption, paraphrases in SPEECH_VARIANTS:
            for text in rng.sample(SENTENCES, sentences_per_voice):
                wpm = rng.choice((130, 160, 190))
                caps = (caption, *paraphrases, f"{caption} with a {accent_name} accent")
                slug = f"speech/{accent}_{variant}_{SENTENCES.index(text):02d}_{wpm}wpm"
                out.append(Render(slug, category, caps, speech=(f"{accent}+{variant}", text, wpm)))
    for lang, (language, texts) in FOREIGN.items():
        for variant, who in (("m1", "a man"), ("m3", "a man"), ("m4", "a man"), ("m6", "a man"), ("f1", "a woman"), ("f2", "a woman"), ("f4", "a woman"), ("f5", "a woman")):
            for i, text in enumerate(texts):
                caps = (f"{who} speaking {language}", f"speech in {language}", f"{who} saying something in {language}")
                out.append(Render(f"speech/{lang}_{variant}_{i:02d}", f"speech_{language.lower()}", caps, speech=(f"{lang}+{variant}", text, 150)))
    return out


def _render_one(job: tuple[Render, str, str]) -> str:
    """Render one item to WAV; returns its path ('' on failure). Reuses a WAV rendered from the same MIDI."""
    item, renders_dir, soundfont = job
    wav = Path(renders_dir) / f"{item.name}.wav"
    mid = wav.with_suffix(".mid")
    if wav.exists() and (not item.midi or (mid.exists() and mid.read_bytes() == item.midi)):
        return str(wav)
    wav.parent.mkdir(parents=True, exist_ok=True)
    final, wav = wav, wav.with_suffix(".partial.wav")  # renamed when complete, so an interrupted run leaves no half file
    if item.midi:
        mid.write_bytes(item.midi)
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", "44100", "-F", str(wav), soundfont, str(mid)]
    else:
        voice, text, wpm = item.speech
        cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text]
    result = subprocess.run(cmd, capture_output=True)
    if result.returncode != 0 or not wav.exists():
        return ""
    wav.rename(final)
    return str(final)


def render_sources(kind: str, renders_dir: Path, soundfont: Path | None, jobs: int) -> list[Source]:
    """Render all items of kind 'gm' (needs fluidsynth and soundfont) or 'speech' (needs espeak-ng)."""
    tool = "fluidsynth" if kind == "gm" else "espeak-ng"
    if shutil.which(tool) is None:
        raise RuntimeError(f"{tool} not found: apt-get install {tool} (see recipes/opensfx/README.md)")
    if kind == "gm":
        items = [r for p in range(128) for r in gm_program_renders(p)] + gm_percussion_renders()
        package = "fluid-soundfont-gm"
    else:
        items = speech_renders()
        package = "espeak-ng-data"
    work = [(item, str(renders_dir), str(soundfont or "")) for item in items]
    with Pool(jobs) as pool:
        paths = pool.map(_render_one, work, chunksize=8)
    license_id, _ = license_for(package, "")
    sources = [
        Source(package, Path(p), f"renders/{item.name}.{'mid' if item.midi else 'txt'}", item.category,
               item.captions[0], item.captions, license_id)
        for item, p in zip(items, paths) if p
    ]
    log.info("%s: %d of %d renders", kind, len(sources), len(items))
    return sources
