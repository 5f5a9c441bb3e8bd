"""Per-package licenses and copyright holders, read by hand from /usr/share/doc/<package>/copyright.

Each package has a default (license, holders) and optional overrides: regexes on the lower-cased
package-relative path, first match wins. Licenses are SPDX identifiers; a file whose license is
not in FREE_LICENSES is left out of the corpus.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

FREE_LICENSES = {
    "CC0-1.0", "CC-BY-3.0", "CC-BY-SA-3.0", "CC-BY-SA-3.0-US", "CC-BY-SA-4.0",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "LGPL-2.1-or-later",
    "GFDL-1.3-or-later", "MIT", "LAL-1.3",
}


@dataclass(frozen=True)
class PackageLicense:
    """default: (SPDX license, copyright holders); overrides: [(path regex, license, holders)]."""

    license: str
    holders: str
    overrides: list[tuple[str, str, str]] = field(default_factory=list)

    def for_path(self, relpath: str) -> tuple[str, str]:
        """(license, holders) of one package-relative path."""
        path = relpath.lower()
        for pattern, license_id, holders in self.overrides:
            if re.search(pattern, path):
                return license_id, holders
        return self.license, self.holders


HYDROGEN_KITS = [
    (r"/(electricempirekit|hardelectro1|varibreaks)/", "GPL-2.0-or-later", "Artemiy Pavlov (Artemio)"),
    (r"/(millo-drums_v\.1|millo_multilayered[23])/", "GPL-2.0-only", "Emiliano Grilli (Emillo)"),
    (r"/colomboacousticdrumkit/", "GPL-2.0-or-later", "2006 Marcos Guglielmetti (with composition exception)"),
    (r"/circafrique[^/]*/", "CC-BY-SA-3.0", "Jim Harney"),
    (r"/bja_pacific/", "CC-BY-SA-3.0-US", "Luc Tunguay"),
    (r"/(gimme a hand 1\.0|the black pearl 1\.0)/", "GPL-2.0-only", "Glen MacArthur"),
    (r"/rumpf_kit_z01_h2/", "CC-BY-3.0", "Emanuel Rumpf"),
    (r"/belofilms_guitarstrums/", "CC-BY-3.0", "Gabriel Verdugo Soto"),
    (r"/audiophob/", "CC0-1.0", "soundcloud.com/audiophobdubstep"),
    (r"/forzeestereo/", "GPL-2.0-only", "Vladimir Sadovnikov, Alexander Belokurov"),
]

# Samples that sonic-pi-samples' copyright file lists one by one as CC0 (the rest fall under "Files: *", MIT).
SONIC_PI_CC0 = "|".join([
    "ambi_choir|ambi_dark_woosh|ambi_drone|ambi_glass_hum|ambi_glass_rub|ambi_haunted_hum|ambi_lunar_land|ambi_piano",
    "ambi_soft_buzz|ambi_swoosh|bass_dnb_f|bass_drop_c|bass_hard_c|bass_hit_c|bass_thick_c|bass_trance_c",
    "bass_voxy_c|bass_voxy_hit_c|bass_woodsy_c|bd_808|bd_ada|bd_boom|bd_fat|bd_gas",
    "bd_haus|bd_klub|bd_pure|bd_sone|bd_tek|bd_zome|bd_zum|drum_bass_hard",
    "drum_bass_soft|drum_cowbell|drum_cymbal_closed|drum_cymbal_hard|drum_cymbal_open|drum_cymbal_pedal|drum_cymbal_soft|drum_heavy_kick",
    "drum_roll|drum_snare_hard|drum_snare_soft|drum_splash_hard|drum_splash_soft|drum_tom_hi_hard|drum_tom_hi_soft|drum_tom_lo_hard",
    "drum_tom_lo_soft|drum_tom_mid_hard|drum_tom_mid_soft|elec_beep|elec_bell|elec_blip2|elec_blip|elec_blup",
    "elec_bong|elec_chime|elec_cymbal|elec_filt_snare|elec_flip|elec_fuzz_tom|elec_hi_snare|elec_hollow_kick",
    "elec_lo_snare|elec_mid_snare|elec_ping|elec_plip|elec_pop|elec_snare|elec_soft_kick|elec_tick",
    "elec_triangle|elec_twang|elec_twip|elec_wood|guit_e_fifths|guit_em9|guit_e_slide|guit_harmonics",
    "loop_amen_full|loop_amen|loop_breakbeat|loop_compus|loop_garzul|loop_industrial|loop_mika|loop_safari",
    "loop_tabla|misc_cineboom|misc_crow|misc_burp|perc_bell|perc_snap|perc_snap2|perc_swash",
    "perc_till|sn_dolf|sn_dub|sn_zome|tabla_dhec|tabla_ghe1|tabla_ghe2|tabla_ghe3",
    "tabla_ghe4|tabla_ghe5|tabla_ghe6|tabla_ghe7|tabla_ghe8|tabla_ke1|tabla_ke2|tabla_ke3",
    "tabla_na|tabla_na_o|tabla_na_s|tabla_re|tabla_tas1|tabla_tas2|tabla_tas3|tabla_te1",
    "tabla_te2|tabla_te_m|tabla_te_ne|tabla_tun1|tabla_tun2|tabla_tun3|vinyl_backspin|vinyl_hiss",
    "vinyl_rewind|vinyl_scratch",
]).split("|")

PACKAGES: dict[str, PackageLicense] = {
    "sound-theme-freedesktop": PackageLicense("CC-BY-SA-3.0", "see overrides", [
        (r"/alarm-clock-elapsed\.", "CC-BY-SA-3.0", "Tim/corsica_s"),
        (r"/(bell|complete|trash-empty)\.", "CC-BY-3.0", "Dr. Richard Boulanger et al"),
        (r"/camera-shutter\.", "CC-BY-SA-3.0", "freesound user horsthorstensen"),
        (r"/(message-new-instant|phone-incoming-call|phone-outgoing-busy|phone-outgoing-calling)\.", "GPL-2.0-or-later", "Damien Sandras"),
        (r"/(audio-channel-[a-z-]+|audio-test-signal)\.", "GPL-2.0-or-later", "The ALSA developers"),
        (r"/(service-login|service-logout)\.", "GPL-2.0-only", "The Pidgin developers"),
        (r"/suspend-error\.", "CC-BY-SA-3.0", "Red Hat, Inc."),
        (r"/(message|dialog-information|dialog-warning)\.", "CC-BY-SA-3.0", "sound-theme-freedesktop contributors (see copyright file)"),
    ]),
    "tuxpaint-stamps-default": PackageLicense("GPL-2.0-only", "2002-2022 Bill Kendrick and Tux Paint contributors"),
    "hydrogen-drumkits": PackageLicense("GPL-2.0-only", "see overrides", HYDROGEN_KITS),
    "hydrogen-drumkits-effects": PackageLicense("CC-BY-3.0", "see overrides", HYDROGEN_KITS),
    "0ad-data": PackageLicense("CC-BY-SA-3.0", "2010 Wildfire Games"),
    "openttd-opensfx": PackageLicense("CC-BY-SA-3.0", "OpenSFX authors (each entry names its author)", [
        (r"__cc0\.wav$", "CC0-1.0", "OpenSFX authors, see opensfx.cat entry description"),
        (r"__ccby3\.wav$", "CC-BY-3.0", "OpenSFX authors, see opensfx.cat entry description"),
        (r"__ccbysa3\.wav$", "CC-BY-SA-3.0", "OpenSFX authors, see opensfx.cat entry description"),
        (r"__unknown\.wav$", "unknown", "unknown"),
    ]),
    "supertuxkart-data": PackageLicense("GPL-3.0-or-later", "SuperTuxKart team and contributors"),
    "hedgewars-data": PackageLicense("GFDL-1.3-or-later", "Hedgewars project", [
        (r"/sounds/droplet\d?\.ogg$", "CC-BY-SA-3.0", "Hedgewars project (Droplet sounds)"),
    ]),
    "wesnoth-1.16-data": PackageLicense("GPL-2.0-or-later", "2003-2022 David White and the Battle for Wesnoth contributors"),
    "megaglest-data": PackageLicense("CC-BY-SA-3.0", "2001-2011 The Glest Team, Titus Tscharntke and MegaGlest contributors"),
    "minetest-data": PackageLicense("CC-BY-SA-3.0", "Minetest Game contributors", [
        (r"/mods/doors/sounds/", "CC-BY-3.0", "Minetest Game contributors (doors mod)"),
    ]),
    "sonic-pi-samples": PackageLicense("MIT", "Sam Aaron and Sonic Pi contributors", [
        (r"/samples/(" + "|".join(SONIC_PI_CC0) + r")\.flac$", "CC0-1.0", "freesound.org contributors (named per sample in the copyright file)"),
    ]),
    "fluid-soundfont-gm": PackageLicense("MIT", "2000-2002, 2008 Frank Wen; 2008 Toby Smithe"),
    # gcompris-qt-data: the sounds sit inside rcc/<activity>.rcc; paths below are the resource paths.
    # Files the copyright file does not list one by one fall under its "Files: *" (GPL-3+).
    "gcompris-qt-data": PackageLicense("GPL-3.0-or-later", "GCompris developers (Bruno Coudoin et al., see copyright file)", [
        (r"/explore_farm_animals/resource/animals/", "GPL-3.0-only", "2000, 2008 Bruno Coudoin and others; Franck Doucet"),
        (r"/memory-sound/resource/[^/]*_la(_cut)?\.ogg$", "LAL-1.3", "Lionel Allorge, Yves Combe"),
        (r"/instruments/resource/drum_kit\.ogg$", "CC-sampling-plus-1.0", "ocea (freesound.org)"),
        (r"/instruments/resource/", "GPL-3.0-or-later", "Sylvain Dechy, Jérome Blanchard, Julie Jules, Chloé Tuvuku"),
        (r"/canal_lock/resource/door_(open|close)\.wav$", "CC0-1.0", "lolamadeus (freesound.org)"),
        (r"/guessnumber/resource/helicopter\.wav$", "CC-BY-3.0", "fridobeck (freesound.org)"),
    ]),
    "scratch": PackageLicense("CC-BY-SA-3.0", "2011 Massachusetts Institute of Technology (Scratch 1.4 media library)"),
    "widelands-data": PackageLicense("GPL-2.0-or-later", "2002-2019 the Widelands Development Team"),
    "klettres-data": PackageLicense("GPL-2.0-or-later", "2001-2011 Anne-Marie Mahfouf and the KLettres voice contributors"),
    "ktuberling-data": PackageLicense("GPL-2.0-or-later", "KTuberling contributors (Albert Astals Cid, Éric Bischoff et al.)"),
    "minetest-mod-homedecor": PackageLicense("CC-BY-SA-4.0", "2012-2020 Vanessa Ezekowitz (homedecor models, sounds and textures)"),
    "flare-game": PackageLicense("CC-BY-SA-3.0", "2012-2021 Clint Bellanger and others (CC-BY-SA-3.0 or later)"),
    "kajongg": PackageLicense("GPL-2.0-or-later", "2008-2017 Wolfgang Rohdewald and the Kajongg contributors"),
    "csoundqt-examples": PackageLicense("LGPL-2.1-or-later", "2008-2016 Andrés Cabrera, 2018-2020 Tarmo Johannes (CsoundQt examples)"),
    # asterisk-core-sounds: one copyright file for all languages (Files: * / fr-* / ru-* / it-* stanzas upstream)
    "asterisk-core-sounds-en-wav": PackageLicense("CC-BY-SA-3.0", "2003-2010 Allison Smith (recorded; financial contributions Digium, Inc.)"),
    "asterisk-core-sounds-es-wav": PackageLicense("CC-BY-SA-3.0", "2003-2010 Allison Smith (recorded; financial contributions Digium, Inc.)"),
    "asterisk-core-sounds-fr-wav": PackageLicense("CC-BY-SA-3.0", "2006-2008 June Wallack (recorded; translated by Clod Patry, Kristopher Lalletti, June Wallack)"),
    "asterisk-core-sounds-it-wav": PackageLicense("CC-BY-3.0", "2012 Carlo Flora (recorded; translated by Silvia Petrin)"),
    "asterisk-core-sounds-ru-wav": PackageLicense("CC-BY-3.0", "2010 Maxim Topal (ivrvoice.ru)"),
    "espeak-ng-data": PackageLicense("GPL-3.0-or-later", "eSpeak NG contributors (Reece H. Dunn, Jonathan Duddington et al.)"),
}


def license_for(package: str, relpath: str) -> tuple[str, str]:
    """(SPDX license, holders) for a file; ("unknown", "") for packages not in the table."""
    info = PACKAGES.get(package)
    return info.for_path(relpath) if info else ("unknown", "")


def is_free(license_id: str) -> bool:
    """True when the corpus may include a file under this license."""
    return license_id in FREE_LICENSES
