"""Caption tables for the General MIDI renders: the 128 programs and the percussion key map.

PROGRAMS[n] = (category, noun) for GM program n (0-based): the noun is what a person would type
("grand piano", "square wave synth lead"), the category its snake_case label.
PERCUSSION[key] = (category, caption) for GM percussion keys 35-81 on MIDI channel 10.
"""
from __future__ import annotations

_PROGRAM_NOUNS = """
grand piano|bright piano|electric grand piano|honky-tonk piano|electric piano|bright electric piano|harpsichord|clavinet
celesta|glockenspiel|music box|vibraphone|marimba|xylophone|tubular bells|dulcimer
drawbar organ|percussive organ|rock organ|church organ|reed organ|accordion|harmonica|tango accordion
nylon string acoustic guitar|steel string acoustic guitar|jazz guitar|clean electric guitar|muted electric guitar|overdriven electric guitar|distorted electric guitar|guitar harmonics
acoustic upright bass|fingered electric bass|picked electric bass|fretless bass|slap bass|popped slap bass|synth bass|rubbery synth bass
violin|viola|cello|double bass|tremolo strings|pizzicato strings|harp|timpani
string ensemble|slow string ensemble|synth strings|warm synth strings|aah choir|ooh choir|synth choir|orchestra hit
trumpet|trombone|tuba|muted trumpet|french horn|brass section|synth brass|soft synth brass
soprano saxophone|alto saxophone|tenor saxophone|baritone saxophone|oboe|english horn|bassoon|clarinet
piccolo|flute|recorder|pan flute|blown bottle|shakuhachi|whistle|ocarina
square wave synth lead|sawtooth synth lead|calliope synth lead|chiff synth lead|charang synth lead|synth voice lead|fifths synth lead|bass and lead synth
new age synth pad|warm synth pad|polysynth pad|choir synth pad|bowed glass synth pad|metallic synth pad|halo synth pad|sweeping synth pad
rain effect synth|soundtrack synth|crystal synth|atmosphere synth|brightness synth|goblin synth|echo drops synth|sci-fi synth
sitar|banjo|shamisen|koto|kalimba|bagpipe|fiddle|shanai
tinkle bell|agogo bell|steel drum|woodblock|taiko drum|melodic tom|synth drum|reverse cymbal
guitar fret noise|breath noise|seashore|bird tweet|telephone ring|helicopter|applause|gunshot
"""

PROGRAMS: list[tuple[str, str]] = []
for _line in _PROGRAM_NOUNS.strip().splitlines():
    for _noun in _line.split("|"):
        _category = "gm_" + _noun.replace("-", " ").replace(" ", "_")
        PROGRAMS.append((_category, _noun))
assert len(PROGRAMS) == 128, len(PROGRAMS)

# Programs 120-127 are sound effects: rendered as single events with their own captions.
EFFECT_PROGRAMS: dict[int, tuple[str, str, tuple[str, ...]]] = {
    120: ("guitar_fret_noise", "a guitar string squeak", ("fingers sliding on guitar strings",)),
    121: ("breath_noise", "a breathy noise", ("someone breathing out",)),
    122: ("synth_seashore", "a synthesized sound of waves on a seashore", ("synthetic ocean surf",)),
    123: ("synth_bird_tweet", "a synthesized bird tweeting", ("electronic bird chirps",)),
    124: ("synth_telephone", "a synthesized telephone ringing", ("an electronic phone ring",)),
    125: ("synth_helicopter", "a synthesized helicopter", ("an electronic helicopter sound",)),
    126: ("synth_applause", "synthesized applause", ("an electronic crowd clapping",)),
    127: ("synth_gunshot", "a synthesized gunshot", ("an electronic gun firing",)),
}

PERCUSSION: dict[int, tuple[str, str]] = {
    35: ("kick_drum", "a kick drum hit"), 36: ("kick_drum", "a kick drum hit"),
    37: ("rimshot", "a side stick click on a snare drum"), 38: ("snare_drum", "a snare drum hit"),
    39: ("hand_clap", "a hand clap"), 40: ("snare_drum", "an electric snare drum hit"),
    41: ("tom_drum", "a low floor tom hit"), 42: ("hi_hat", "a closed hi-hat"),
    43: ("tom_drum", "a high floor tom hit"), 44: ("hi_hat", "a pedal hi-hat"),
    45: ("tom_drum", "a low tom hit"), 46: ("hi_hat_open", "an open hi-hat"),
    47: ("tom_drum", "a low mid tom hit"), 48: ("tom_drum", "a high mid tom hit"),
    49: ("crash_cymbal", "a crash cymbal"), 50: ("tom_drum", "a high tom hit"),
    51: ("ride_cymbal", "a ride cymbal"), 52: ("china_cymbal", "a china cymbal"),
    53: ("ride_bell", "the bell of a ride cymbal"), 54: ("tambourine", "a tambourine"),
    55: ("splash_cymbal", "a splash cymbal"), 56: ("cowbell", "a cowbell hit"),
    57: ("crash_cymbal", "a crash cymbal"), 58: ("vibraslap", "a vibraslap rattle"),
    59: ("ride_cymbal", "a ride cymbal"), 60: ("bongo", "a high bongo"), 61: ("bongo", "a low bongo"),
    62: ("conga", "a muted high conga"), 63: ("conga", "an open high conga"), 64: ("conga", "a low conga"),
    65: ("timbales", "a high timbale"), 66: ("timbales", "a low timbale"),
    67: ("agogo", "a high agogo bell"), 68: ("agogo", "a low agogo bell"),
    69: ("cabasa", "a cabasa shake"), 70: ("shaker", "maracas shaking"),
    71: ("whistle", "a short whistle"), 72: ("whistle", "a long whistle"),
    73: ("guiro", "a short guiro scrape"), 74: ("guiro", "a long guiro scrape"),
    75: ("claves", "claves clicking"), 76: ("woodblock", "a high woodblock"), 77: ("woodblock", "a low woodblock"),
    78: ("cuica", "a muted cuica"), 79: ("cuica", "an open cuica"),
    80: ("triangle", "a muted triangle"), 81: ("triangle", "an open triangle ringing"),
}


def article(noun: str) -> str:
    """'a' or 'an' for a noun phrase."""
    return "an" if noun[0].lower() in "aeiou" else "a"
