"""Hand-curated caption table: package-relative sound paths -> category, caption, paraphrases.

Each Rule's `pattern` is a regular expression searched in the lower-cased path inside the
unpacked package (for example "usr/share/sounds/freedesktop/stereo/bell.oga"). The first
matching rule of the file's package wins; paths matching EXCLUDE, or no rule at all, are left
out of the corpus. Rules were written by listing every sound file of each package and naming
only what the file name (and folder) says unambiguously; when in doubt, a file has no rule.

Drum-kit samples of Hydrogen are named from each kit's drumkit.xml through DRUM_INSTRUMENTS.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """package: Debian package name; pattern: regex on the lower-cased package-relative path."""

    package: str
    pattern: str
    category: str
    caption: str
    paraphrases: tuple[str, ...] = ()

    @property
    def captions(self) -> list[str]:
        """Main caption first, then the paraphrases."""
        return [self.caption, *self.paraphrases]


def R(package: str, pattern: str, category: str, caption: str, *paraphrases: str) -> Rule:
    """Short constructor so the table below stays one rule per line."""
    return Rule(package, pattern, category, caption, tuple(paraphrases))


# Paths never used: spoken descriptions, unit voice lines, music, UI feedback sounds.
EXCLUDE = re.compile(r"_desc[_.]|/descriptions?/|/voices?/|/music/|/interface/|/ui/|/menu/")

FD = "sound-theme-freedesktop"
TUX = "tuxpaint-stamps-default"
OAD = "0ad-data"
TTD = "openttd-opensfx"
STK = "supertuxkart-data"
HW = "hedgewars-data"
WN = "wesnoth-1.16-data"
MG = "megaglest-data"
MT = "minetest-data"
SP = "sonic-pi-samples"
GC = "gcompris-qt-data"
SC = "scratch"
WL = "widelands-data"
KL = "klettres-data"
KT = "ktuberling-data"
KJ = "kajongg"
CQ = "csoundqt-examples"
HD = "minetest-mod-homedecor"
FL = "flare-game"
# Packages whose paths EXCLUDE does not apply to: kajongg's voices/ folders hold read words, not unit voice lines.
EXCLUDE_EXEMPT = {KJ}

RULES: list[Rule] = [
    # sound-theme-freedesktop
    R(FD, r"/alarm-clock-elapsed\.oga$", "alarm_clock", "an alarm clock ringing", "an alarm clock going off", "a ringing alarm clock"),
    R(FD, r"/bell\.oga$", "bell", "a bell ringing", "a single bell chime", "a bell being struck"),
    R(FD, r"/phone-incoming-call\.oga$", "telephone_ring", "a telephone ringing", "a phone ringing for an incoming call"),
    R(FD, r"/phone-outgoing-(busy|calling)\.oga$", "telephone_tone", "a telephone dial tone", "a phone line tone beeping"),
    R(FD, r"/camera-shutter\.oga$", "camera_shutter", "a camera shutter clicking", "the click of a camera taking a photo"),
    R(FD, r"/trash-empty\.oga$", "paper_crumple", "paper being crumpled and thrown away", "crumpling paper"),
    R(FD, r"/complete\.oga$", "chime", "a short chime", "a bright notification chime"),
    R(FD, r"/message(-new-instant)?\.oga$", "chime", "a soft notification chime", "a short chime"),
    R(FD, r"/dialog-(information|warning)\.oga$", "chime", "a short alert chime", "an electronic chime"),
    R(FD, r"/audio-test-signal\.oga$", "test_tone", "a steady electronic test tone", "a pure beep tone"),
    # tuxpaint-stamps-default (stamp sound effects only; the *_desc_* spoken descriptions are excluded)
    R(TUX, r"/amphibians/frog\.ogg$", "frog", "a frog croaking", "frogs croaking"),
    R(TUX, r"/birds/(blackbird|lark)\.ogg$", "songbird", "a songbird singing", "a small bird chirping and singing"),
    R(TUX, r"/birds/crow\.ogg$", "crow", "a crow cawing", "crows cawing"),
    R(TUX, r"/birds/cuckoo\.ogg$", "cuckoo", "a cuckoo calling", "the call of a cuckoo bird"),
    R(TUX, r"/birds/(drake|duck)\.ogg$", "duck", "a duck quacking", "ducks quacking"),
    R(TUX, r"/birds/gander\.ogg$", "goose", "a goose honking", "a honking goose"),
    R(TUX, r"/birds/hen\.ogg$", "chicken", "a hen clucking", "a chicken clucking"),
    R(TUX, r"/birds/rooster\.ogg$", "rooster", "a rooster crowing", "a cock crowing in the morning"),
    R(TUX, r"/birds/owl\.ogg$", "owl", "an owl hooting", "the hoot of an owl"),
    R(TUX, r"/birds/seagull\.ogg$", "seagull", "seagulls crying", "a seagull calling"),
    R(TUX, r"/birds/turkey\.ogg$", "turkey", "a turkey gobbling", "a gobbling turkey"),
    R(TUX, r"/birds/(vulture|quetzal|tucan|nandou|penguin)\.ogg$", "bird_call", "a bird calling", "a wild bird call"),
    R(TUX, r"/insects/(bee|hornet)\.ogg$", "bee_buzz", "a bee buzzing", "an insect buzzing"),
    R(TUX, r"/insects/mosquito\.ogg$", "mosquito", "a mosquito buzzing", "the whine of a mosquito"),
    R(TUX, r"/insects/grasshopper\.ogg$", "cricket", "a grasshopper chirping", "insects chirping"),
    R(TUX, r"/apes/(chimp|gorilla)\.ogg$", "ape", "an ape hooting", "a chimpanzee calling"),
    R(TUX, r"/aquatic/dolphin\.ogg$", "dolphin", "a dolphin clicking and whistling", "dolphin sounds"),
    R(TUX, r"/aquatic/(orca|whale)\.ogg$", "whale", "a whale singing", "a whale call underwater"),
    R(TUX, r"/aquatic/sea_lion\.ogg$", "sea_lion", "a sea lion barking", "a barking sea lion"),
    R(TUX, r"/bears/bear\.ogg$", "bear", "a bear growling", "a growling bear"),
    R(TUX, r"/bovines/(bull|cow|cow_white|bison)\.ogg$", "cow", "a cow mooing", "cattle mooing"),
    R(TUX, r"/bovines/(goat|mountaingoat)\.ogg$", "goat", "a goat bleating", "a bleating goat"),
    R(TUX, r"/bovines/(sheep|sheep_lamb|ram)\.ogg$", "sheep", "a sheep bleating", "sheep baaing"),
    R(TUX, r"/cats/(lion|tiger)\.ogg$", "big_cat_roar", "a lion roaring", "a big cat roaring"),
    R(TUX, r"/dogs/dog\.ogg$", "dog_bark", "a dog barking", "a barking dog"),
    R(TUX, r"/halloween/blackcat\.ogg$", "cat_meow", "a cat meowing", "a meowing cat"),
    R(TUX, r"/mammals/elephant\.ogg$", "elephant", "an elephant trumpeting", "the trumpet call of an elephant"),
    R(TUX, r"/equines/(donkey)\.ogg$", "donkey", "a donkey braying", "a braying donkey"),
    R(TUX, r"/equines/(horse|zebra)\.ogg$", "horse_neigh", "a horse neighing", "a neighing horse"),
    R(TUX, r"/mammals/pig(_golden2?)?\.ogg$", "pig", "a pig oinking", "pigs grunting"),
    R(TUX, r"/rodents/mouse\.ogg$", "mouse", "a mouse squeaking", "squeaking mice"),
    R(TUX, r"/household/washing-machine\.ogg$", "washing_machine", "a washing machine running", "a washing machine spinning"),
    R(TUX, r"/household/kettle\.ogg$", "kettle", "a kettle boiling and whistling", "a water kettle coming to the boil"),
    R(TUX, r"/household/toilet\.ogg$", "toilet_flush", "a toilet flushing", "the flush of a toilet"),
    R(TUX, r"/household/vacuum_cleaner\.ogg$", "vacuum_cleaner", "a vacuum cleaner running", "the hum of a vacuum cleaner"),
    R(TUX, r"/household/rubberduck\.ogg$", "squeaky_toy", "a rubber duck squeaking", "a squeaky toy being squeezed"),
    R(TUX, r"/arttools/scissors_small_(open|closed)\.ogg$", "scissors", "scissors cutting", "a pair of scissors snipping"),
    R(TUX, r"/dishes/glass\.ogg$", "glass_clink", "glasses clinking", "a glass being tapped"),
    R(TUX, r"/tools/saw\.ogg$", "hand_saw", "a hand saw cutting wood", "someone sawing a plank"),
    R(TUX, r"/tools/(hammer|mallet_metal)\.ogg$", "hammering", "a hammer striking", "someone hammering"),
    R(TUX, r"/hobbies/camera_35mm\.ogg$", "camera_shutter", "a film camera shutter clicking", "a camera clicking"),
    R(TUX, r"/percussion/cymbal_crash\.ogg$", "crash_cymbal", "a crash cymbal", "a cymbal crash"),
    R(TUX, r"/percussion/drum_tomtom_floor\.ogg$", "tom_drum", "a floor tom drum hit", "a low tom drum"),
    R(TUX, r"/percussion/drumkit\.ogg$", "drum_beat", "a drum kit playing a beat", "drums playing"),
    R(TUX, r"/string/cello\.ogg$", "cello", "a cello playing", "a bowed cello"),
    R(TUX, r"/string/violin\.ogg$", "violin", "a violin playing", "a bowed violin"),
    R(TUX, r"/wind/bassoon\.ogg$", "bassoon", "a bassoon playing", "a low woodwind playing"),
    R(TUX, r"/naturalforces/lightningbolt\.ogg$", "thunder", "a thunderclap", "thunder rumbling after lightning"),
    R(TUX, r"/newyears/fireworks\.ogg$", "fireworks", "fireworks exploding", "fireworks going off"),
    R(TUX, r"/emergency/firetruck\.ogg$", "siren", "a fire truck siren", "an emergency siren wailing"),
    R(TUX, r"/hanukkah/dreydl-\w+\.ogg$", "spinning_top", "a dreidel spinning on a table", "a spinning top"),
    # 0ad-data: public.zip audio (footsteps, nature ambience, animals, work and battle sounds)
    R(OAD, r"/singlesteps/fs_grass", "footsteps_grass", "a footstep on grass", "walking on grass"),
    R(OAD, r"/singlesteps/fs_gravel", "footsteps_gravel", "a footstep on gravel", "walking on gravel"),
    R(OAD, r"/singlesteps/fs_rock", "footsteps_stone", "a footstep on rock", "walking on stone"),
    R(OAD, r"/singlesteps/fs_sand", "footsteps_sand", "a footstep on sand", "walking on sand"),
    R(OAD, r"/singlesteps/fs_snow", "footsteps_snow", "a footstep in snow", "walking through snow"),
    R(OAD, r"/singlesteps/fs_wood", "footsteps_wood", "a footstep on wood", "walking on a wooden floor"),
    R(OAD, r"/footsteps/foo?rstep_(\w+?)_running", "footsteps_running", "someone running", "running footsteps"),
    R(OAD, r"/footsteps/foo?rstep_(\w+?)_walking", "footsteps_walking", "someone walking", "walking footsteps"),
    R(OAD, r"/mounted/movement/mstep", "horse_hooves", "a horse trotting", "hooves clopping"),
    R(OAD, r"/animal/(cattle_)", "cow", "a cow mooing", "cattle lowing"),
    R(OAD, r"/animal/chicken_", "chicken", "chickens clucking", "a hen clucking"),
    R(OAD, r"/animal/elephant_", "elephant", "an elephant trumpeting", "an elephant calling"),
    R(OAD, r"/animal/horse_", "horse_neigh", "a horse neighing", "a horse whinnying"),
    R(OAD, r"/animal/lion_", "big_cat_roar", "a lion roaring", "a lion growling"),
    R(OAD, r"/animal/peacock_call", "bird_call", "a peacock calling", "a loud bird call"),
    R(OAD, r"/animal/pig_", "pig", "a pig squealing", "a pig grunting"),
    R(OAD, r"/animal/sheep_", "sheep", "a sheep bleating", "sheep baaing"),
    R(OAD, r"/animal/camel_", "camel", "a camel grunting", "a camel groaning"),
    R(OAD, r"/fauna/death/goat_", "goat", "a goat bleating", "a bleating goat"),
    R(OAD, r"/fauna/death/death_horse_|/mounted/death/death_horse_", "horse_neigh", "a horse screaming", "a horse neighing loudly"),
    R(OAD, r"/human/death/female_death_", "woman_scream", "a woman screaming in pain", "a woman crying out"),
    R(OAD, r"/human/death/(male_)?death_", "man_scream", "a man screaming in pain", "a man crying out"),
    R(OAD, r"/gate/stonegate_(open|close)", "heavy_door", "a heavy stone gate grinding", "a large gate opening"),
    R(OAD, r"/ship/(ship_move|smove_|warship_move_)", "ship_rowing", "a wooden ship creaking on the water", "oars splashing in water"),
    R(OAD, r"/ambient/building/amb_farm_", "farm_ambience", "farmyard ambience with animals", "sounds of a busy farm"),
    R(OAD, r"/ambient/building/amb_port_", "harbor_ambience", "a busy harbor with waves and gulls", "harbour ambience"),
    R(OAD, r"/ambient/building/amb_trade_", "market_crowd", "a crowded market", "people talking at a market"),
    R(OAD, r"/dayscape/day_temperate", "forest_ambience", "birds singing in a forest", "a daytime forest ambience"),
    R(OAD, r"/dayscape/day_tropical", "jungle_ambience", "tropical jungle ambience", "birds and insects in a jungle"),
    R(OAD, r"/water/river_(slow|med)", "stream", "a gently flowing stream", "water flowing in a creek"),
    R(OAD, r"/water/river_(fast|raging)", "river_rapids", "a fast flowing river", "rushing river rapids"),
    R(OAD, r"/water/waterfall", "waterfall", "a waterfall", "water crashing down a waterfall"),
    R(OAD, r"/water/wave", "ocean_waves", "ocean waves crashing on the shore", "waves breaking on rocks"),
    R(OAD, r"/weather/rain_", "rain", "rain falling", "steady rain"),
    R(OAD, r"/weather/thunder_", "thunder", "thunder rumbling", "a rolling thunderclap"),
    R(OAD, r"/weather/(wind_|windgust_|windstorm_)", "wind", "wind howling", "strong wind blowing"),
    R(OAD, r"/weather/windleaves_", "wind_in_trees", "wind rustling through leaves", "leaves rustling in the wind"),
    R(OAD, r"/weather/snowstorm_", "wind", "a howling snowstorm", "a cold wind howling"),
    R(OAD, r"/destruction/building_collapse", "building_collapse", "a building collapsing", "stone walls crumbling down"),
    R(OAD, r"/destruction/explode_debris", "explosion", "an explosion with falling debris", "a blast"),
    R(OAD, r"/attack/fire/", "fire_crackle", "a fire crackling", "flames burning"),
    R(OAD, r"/impact/arrow_(dirt|metal|stone|wood|)", "arrow_impact", "an arrow hitting a target", "an arrow thudding into a target"),
    R(OAD, r"/impact/shield_metal_", "metal_clang", "a sword striking a metal shield", "a metallic clang"),
    R(OAD, r"/impact/shield_wood_", "wood_impact", "a blow striking a wooden shield", "a hard knock on wood"),
    R(OAD, r"/impact/siegeprojectilehit_", "boulder_impact", "a boulder crashing into a wall", "a heavy stone impact"),
    R(OAD, r"/impact/sling_(metal|stone|wood)_", "stone_impact", "a small stone striking a surface", "a pebble hitting something hard"),
    R(OAD, r"/weapon/arrowfly_", "arrow_whoosh", "an arrow whizzing past", "an arrow flying through the air"),
    R(OAD, r"/weapon/bow_attack_", "bow_shot", "a bow being fired", "an arrow released from a bow"),
    R(OAD, r"/weapon/(sword_attack|swordhit)_", "sword_clash", "swords clashing", "metal blades striking each other"),
    R(OAD, r"/weapon/musket_", "gunshot", "a musket firing", "a gunshot"),
    R(OAD, r"/siege/(ballist\w*|onager_shooting)_", "catapult", "a catapult launching", "a siege engine firing"),
    R(OAD, r"/construction/con_saw_", "hand_saw", "a saw cutting wood", "someone sawing wood"),
    R(OAD, r"/construction/con_stone_", "stone_masonry", "a chisel striking stone", "masons working on stone"),
    R(OAD, r"/construction/con_wood_", "hammering", "a hammer hitting wood", "hammering nails into wood"),
    R(OAD, r"/farming/hoe_", "digging", "a hoe digging into soil", "someone digging in the dirt"),
    R(OAD, r"/foraging/leaves_", "leaves_rustle", "leaves rustling", "rummaging through a bush"),
    R(OAD, r"/gathering/gather_field_", "harvesting", "crops being cut with a sickle", "harvesting grain"),
    R(OAD, r"/lumbering/lumber_tree_", "wood_chopping", "an axe chopping wood", "someone chopping a tree"),
    R(OAD, r"/lumbering/lumber_treeexpire_", "tree_falling", "a tree falling", "a tree crashing down"),
    R(OAD, r"/mining/mine_metal_", "pickaxe_metal", "a pickaxe striking metal ore", "mining with a pickaxe"),
    R(OAD, r"/mining/mine_stone_", "pickaxe_stone", "a pickaxe striking rock", "someone breaking rock with a pickaxe"),
    # gcompris-qt-data (audio files of the Qt resources rcc/<activity>.rcc; farm animals, Lionel
    # Allorge's memory-sound recordings, real instruments; UI sounds and music are not named here)
    R(GC, r"/explore_farm_animals/resource/animals/dog\.", "dog_bark", "a dog barking", "a barking dog"),
    R(GC, r"/explore_farm_animals/resource/animals/cat\.", "cat_meow", "a cat meowing", "a meowing cat"),
    R(GC, r"/explore_farm_animals/resource/animals/cow\.", "cow", "a cow mooing", "cattle mooing"),
    R(GC, r"/explore_farm_animals/resource/animals/horse\.", "horse_neigh", "a horse neighing", "a neighing horse"),
    R(GC, r"/explore_farm_animals/resource/animals/pig\.", "pig", "a pig oinking", "pigs grunting"),
    R(GC, r"/explore_farm_animals/resource/animals/sheep\.", "sheep", "a sheep bleating", "sheep baaing"),
    R(GC, r"/explore_farm_animals/resource/animals/duck\.", "duck", "a duck quacking", "ducks quacking"),
    R(GC, r"/explore_farm_animals/resource/animals/chickens\.", "chicken", "chickens clucking", "hens clucking in a farmyard"),
    R(GC, r"/explore_farm_animals/resource/animals/owl\.", "owl", "an owl hooting", "the hoot of an owl"),
    R(GC, r"/memory-sound/resource/lrbark_\d_la", "dog_bark", "a dog barking", "a barking dog"),
    R(GC, r"/memory-sound/resource/lrapplauses_", "applause", "a crowd applauding", "people clapping"),
    R(GC, r"/memory-sound/resource/lrrain_in_garden_", "rain", "rain falling in a garden", "rain falling"),
    R(GC, r"/memory-sound/resource/lrheart_beat_", "heartbeat", "a heart beating", "a heartbeat"),
    R(GC, r"/memory-sound/resource/lrtrain_slowing_down_", "train_braking", "a train slowing down", "a train braking as it arrives"),
    R(GC, r"/memory-sound/resource/lrbuddhist_gong_", "gong", "a gong being struck", "a ringing Buddhist gong"),
    R(GC, r"/memory-sound/resource/lrdoor_open_", "door", "a door opening", "a door creaking open"),
    R(GC, r"/memory-sound/resource/lrfactory_noise_", "machinery", "factory machinery clanking", "industrial machine noise"),
    R(GC, r"/instruments/resource/accordion\.", "accordion", "an accordion playing", "an accordion tune"),
    R(GC, r"/instruments/resource/banjo\.", "banjo", "a banjo playing", "a plucked banjo"),
    R(GC, r"/instruments/resource/bongo\.", "bongo", "bongo drums playing", "bongos being tapped"),
    R(GC, r"/instruments/resource/castanets\.", "castanets", "castanets clicking", "castanets playing a rhythm"),
    R(GC, r"/instruments/resource/cello\.", "cello", "a cello playing", "a bowed cello"),
    R(GC, r"/instruments/resource/clarinet\.", "clarinet", "a clarinet playing", "a clarinet melody"),
    R(GC, r"/instruments/resource/cymbal\.", "crash_cymbal", "a cymbal crash", "a crash cymbal"),
    R(GC, r"/instruments/resource/electric_guitar\.", "electric_guitar", "an electric guitar playing", "an electric guitar riff"),
    R(GC, r"/instruments/resource/flute_traversiere\.", "flute", "a flute playing", "a flute melody"),
    R(GC, r"/instruments/resource/guitar\.", "acoustic_guitar", "an acoustic guitar playing", "a classical guitar being plucked"),
    R(GC, r"/instruments/resource/harmonica\.", "harmonica", "a harmonica playing", "a mouth organ"),
    R(GC, r"/instruments/resource/harp\.", "harp", "a harp playing", "a plucked harp"),
    R(GC, r"/instruments/resource/horn\.", "french_horn", "a French horn playing", "a horn melody"),
    R(GC, r"/instruments/resource/maracas\.", "shaker", "maracas shaking", "a maraca rhythm"),
    R(GC, r"/instruments/resource/organ\.", "organ", "an organ playing", "a pipe organ"),
    R(GC, r"/instruments/resource/piano\.", "piano", "a piano playing", "someone playing the piano"),
    R(GC, r"/instruments/resource/saxophone\.", "saxophone", "a saxophone playing", "a sax melody"),
    R(GC, r"/instruments/resource/snare_drum\.", "snare_drum", "a snare drum playing", "a snare drum rhythm"),
    R(GC, r"/instruments/resource/tambourine\.", "tambourine", "a tambourine", "a tambourine jingling"),
    R(GC, r"/instruments/resource/timpani\.", "timpani", "timpani drums rolling", "kettle drums"),
    R(GC, r"/instruments/resource/triangle\.", "triangle", "a triangle ringing", "a triangle being struck"),
    R(GC, r"/instruments/resource/trombone\.", "trombone", "a trombone playing", "a sliding trombone"),
    R(GC, r"/instruments/resource/trumpet\.", "trumpet", "a trumpet playing", "a trumpet melody"),
    R(GC, r"/instruments/resource/tuba\.", "tuba", "a tuba playing", "a low brass tuba"),
    R(GC, r"/instruments/resource/violin\.", "violin", "a violin playing", "a bowed violin"),
    R(GC, r"/instruments/resource/drum_kit\.", "drum_beat", "a drum kit playing a beat", "drums playing"),
    R(GC, r"/canal_lock/resource/door_(open|close)\.", "door", "a heavy door opening and closing", "a door creaking"),
    R(GC, r"/guessnumber/resource/helicopter\.", "helicopter", "a helicopter flying", "helicopter rotor blades chopping"),
    # scratch (Scratch 1.4 media library: Media/Sounds/<kind>/<Name>.wav|.mp3)
    R(SC, r"/sounds/animal/dog\d\.", "dog_bark", "a dog barking", "a single dog bark"),
    R(SC, r"/sounds/animal/(cat|meow)\.", "cat_meow", "a cat meowing", "a meowing cat"),
    R(SC, r"/sounds/animal/kitten\.", "cat_meow", "a kitten meowing", "a small cat mewing"),
    R(SC, r"/sounds/animal/wolfhowl\.", "wolf_howl", "a wolf howling", "the howl of a wolf"),
    R(SC, r"/sounds/animal/owl\.", "owl", "an owl hooting", "the hoot of an owl"),
    R(SC, r"/sounds/animal/rooster\.", "rooster", "a rooster crowing", "a cock crowing"),
    R(SC, r"/sounds/animal/duck\.", "duck", "a duck quacking", "a quacking duck"),
    R(SC, r"/sounds/animal/goose\.", "goose", "a goose honking", "a honking goose"),
    R(SC, r"/sounds/animal/horse\.", "horse_neigh", "a horse neighing", "a whinnying horse"),
    R(SC, r"/sounds/animal/horsegallop\.", "horse_hooves", "a horse galloping", "hooves galloping"),
    R(SC, r"/sounds/animal/crickets?\.", "cricket", "crickets chirping", "a cricket chirping"),
    R(SC, r"/sounds/animal/bird\.", "bird_call", "a bird chirping", "a short bird call"),
    R(SC, r"/sounds/animal/sealion\.", "sea_lion", "a sea lion barking", "a barking sea lion"),
    R(SC, r"/sounds/human/babycry\.", "baby_cry", "a baby crying", "an infant wailing"),
    R(SC, r"/sounds/human/cough-female\.", "cough", "a woman coughing", "someone coughing"),
    R(SC, r"/sounds/human/cough-male\.", "cough", "a man coughing", "someone coughing"),
    R(SC, r"/sounds/human/sneeze-female\.", "sneeze", "a woman sneezing", "someone sneezing"),
    R(SC, r"/sounds/human/sneeze-male\.", "sneeze", "a man sneezing", "someone sneezing"),
    R(SC, r"/sounds/human/laugh-female\.", "laughter", "a woman laughing", "someone laughing"),
    R(SC, r"/sounds/human/laugh-male\d\.", "laughter", "a man laughing", "someone laughing"),
    R(SC, r"/sounds/human/scream-female\.", "woman_scream", "a woman screaming", "a loud female scream"),
    R(SC, r"/sounds/human/scream-male\d\.", "man_scream", "a man screaming", "a loud male scream"),
    R(SC, r"/sounds/human/footsteps-\d\.", "footsteps_walking", "someone walking", "footsteps"),
    R(SC, r"/sounds/human/fingersnap\.", "finger_snap", "a finger snap", "fingers snapping"),
    R(SC, r"/sounds/human/slurp\.", "slurp", "someone slurping a drink", "a loud slurp"),
    R(SC, r"/sounds/effects/belltoll\.", "bell", "a church bell tolling", "a large bell ringing"),
    R(SC, r"/sounds/effects/bubbles\.", "bubbles", "water bubbling", "bubbles rising in water"),
    R(SC, r"/sounds/effects/carpassing\.", "car_passing", "a car driving past", "a car passing by"),
    R(SC, r"/sounds/effects/motorcyclepassing\.", "motorcycle", "a motorcycle driving past", "a motorbike passing by"),
    R(SC, r"/sounds/effects/doorclose\.", "door", "a door closing", "a door shutting"),
    R(SC, r"/sounds/effects/doorcreak\.", "creak", "a door creaking", "a creaking hinge"),
    R(SC, r"/sounds/effects/sewingmachine\.", "sewing_machine", "a sewing machine running", "a sewing machine stitching"),
    R(SC, r"/sounds/effects/typing\.", "typing", "typing on a keyboard", "someone typing"),
    R(SC, r"/sounds/effects/waterdrop\.", "water_drip", "a water drop falling", "water dripping"),
    R(SC, r"/sounds/effects/waterrunning\.", "water_running", "water running from a tap", "a running faucet"),
    R(SC, r"/sounds/percussion/cymbalcrash\.", "crash_cymbal", "a crash cymbal", "a cymbal crash"),
    R(SC, r"/sounds/percussion/ridecymbal\.", "ride_cymbal", "a ride cymbal", "a ride cymbal ringing"),
    R(SC, r"/sounds/percussion/gong\.", "gong", "a gong being struck", "a ringing gong"),
    R(SC, r"/sounds/percussion/handclap\.", "hand_clap", "a hand clap", "hands clapping once"),
    R(SC, r"/sounds/percussion/shaker\.", "shaker", "a shaker", "a shaker rattling"),
    R(SC, r"/sounds/instruments/guitarstrum\.", "acoustic_guitar_strum", "an acoustic guitar strumming a chord", "a strummed guitar chord"),
    R(SC, r"/sounds/instruments/trumpet\d\.", "trumpet", "a trumpet playing", "a trumpet note"),
    R(SC, r"/sounds/instruments/dijjeridoo\.", "didgeridoo", "a didgeridoo droning", "a didgeridoo being played"),
    # widelands-data (animals, farm and work sounds; tribe building loops and UI sounds are not named)
    R(WL, r"/sound/animals/bird\d", "bird_call", "a bird calling", "a wild bird call"),
    R(WL, r"/sound/animals/boar", "pig", "a wild boar grunting", "a boar snorting"),
    R(WL, r"/sound/animals/coyote", "wolf_howl", "a coyote howling", "a wild dog howling"),
    R(WL, r"/sound/animals/crickets\d", "cricket", "crickets chirping", "chirping insects"),
    R(WL, r"/sound/animals/frog", "frog", "a frog croaking", "frogs croaking"),
    R(WL, r"/sound/animals/(moose|stag)", "deer_call", "a stag bellowing", "a deer calling"),
    R(WL, r"/sound/animals/wolf", "wolf_howl", "a wolf howling", "the howl of a wolf"),
    R(WL, r"/critters/duck/duck", "duck", "a duck quacking", "ducks quacking"),
    R(WL, r"/sound/farm/donkey", "donkey", "a donkey braying", "a braying donkey"),
    R(WL, r"/sound/farm/horse", "horse_neigh", "a horse neighing", "a whinnying horse"),
    R(WL, r"/sound/farm/ox", "cow", "an ox lowing", "cattle mooing"),
    R(WL, r"/sound/farm/sheep", "sheep", "a sheep bleating", "sheep baaing"),
    R(WL, r"/sound/farm/scythe", "harvesting", "a scythe cutting grass", "someone mowing with a scythe"),
    R(WL, r"/sound/atlanteans/saw/sawing", "hand_saw", "a saw cutting wood", "someone sawing wood"),
    R(WL, r"/sound/woodcutting/(fast_)?woodcutting", "wood_chopping", "an axe chopping wood", "someone chopping a tree"),
    R(WL, r"/sound/woodcutting/tree_falling", "tree_falling", "a tree falling", "a tree crashing down"),
    R(WL, r"/sound/hammering/hammering", "hammering", "a hammer striking", "someone hammering"),
    R(WL, r"/sound/smiths/(smith|toolsmith)", "metal_hammering", "a blacksmith hammering on an anvil", "metal being forged"),
    R(WL, r"/sound/smiths/sharpening", "knife_sharpening", "a blade being sharpened on a grindstone", "metal grinding on a whetstone"),
    R(WL, r"/sound/stonecutting/stonemason", "stone_masonry", "a chisel striking stone", "a mason working on stone"),
    # openttd-opensfx: catalogue entries (names come from the catalogue's own descriptions)
    R(TTD, r"/\d+_factory_whistle__", "steam_whistle", "a factory steam whistle blowing", "a loud steam whistle"),
    R(TTD, r"/\d+_steam_(train_station_departure|engine_going_in_tunnel)__", "steam_train", "a steam train whistling and departing", "a steam locomotive pulling away"),
    R(TTD, r"/\d+_(ship|ferry)_horn__", "ship_horn", "a ship horn blowing", "the deep horn of a ship"),
    R(TTD, r"/\d+_propeller_plane_start__|/\d+_toyland_propeller_plane_take_off__", "propeller_plane", "a propeller plane starting up", "a small propeller aircraft engine"),
    R(TTD, r"/\d+_(early_jet|modern_jet|mach_1_jet)_take_off__", "jet_aircraft", "a jet plane taking off", "a roaring jet engine"),
    R(TTD, r"/\d+_diesel_electric_train_station_departure__", "train_horn", "a diesel train horn and departure", "a train horn blowing"),
    R(TTD, r"/\d+_electric_sparking__", "electric_spark", "electricity crackling and sparking", "electric sparks buzzing"),
    R(TTD, r"/\d+_level_crossing__", "railroad_crossing", "a railroad crossing bell ringing", "level crossing warning bells"),
    R(TTD, r"/\d+_(crash|big_crash)__", "car_crash", "a vehicle crash", "a loud metal crash"),
    R(TTD, r"/\d+_explosion__", "explosion", "an explosion", "a loud blast"),
    R(TTD, r"/\d+_cash_till__", "cash_register", "a cash register ringing", "a till drawer opening with a ding"),
    R(TTD, r"/\d+_morse__", "morse_code", "morse code beeping", "a telegraph beeping morse code"),
    R(TTD, r"/\d+_helicopter__", "helicopter", "a helicopter flying", "helicopter rotor blades chopping"),
    R(TTD, r"/\d+_(truck_old_bus_start_pull_away|old_bus_start|modern_bus_start)__", "bus_engine", "a bus engine starting and pulling away", "a heavy vehicle driving off"),
    R(TTD, r"/\d+_truck_old_bus_start_pull_away_with_horn__", "truck_horn", "a truck pulling away and honking its horn", "a truck air horn"),
    R(TTD, r"/\d+_applause__", "applause", "a crowd applauding", "people clapping and cheering"),
    R(TTD, r"/\d+_jackhammer__", "jackhammer", "a jackhammer drilling", "a pneumatic drill hammering"),
    R(TTD, r"/\d+_modern_car_horn__", "car_horn", "a car horn honking", "a car beeping its horn"),
    R(TTD, r"/\d+_sheep__", "sheep", "sheep bleating in a field", "a sheep baaing"),
    R(TTD, r"/\d+_cow__", "cow", "a cow mooing", "a cow moaning"),
    R(TTD, r"/\d+_horse__", "horse_neigh", "a horse neighing", "a whinnying horse"),
    R(TTD, r"/\d+_building_bridge__", "metal_hammering", "a hammer striking metal in a smithy", "a blacksmith hammering"),
    R(TTD, r"/\d+_sawmill__", "power_saw", "a circular saw cutting wood", "a power saw crosscutting"),
    R(TTD, r"/\d+_(wind|heavy_wind)__", "wind", "wind blowing", "a strong gusting wind"),
    R(TTD, r"/\d+_lumber_mill_chainsaw__", "chainsaw", "a chainsaw cutting", "a running chainsaw"),
    R(TTD, r"/\d+_lumber_mill_(crashing|falling)_tree__", "tree_falling", "a tree falling and crashing down", "a tree being felled"),
    R(TTD, r"/\d+_tropical_bird_\d__", "bird_call", "a tropical bird calling", "an exotic bird call"),
    R(TTD, r"/\d+_tropical_lion_roar__", "big_cat_roar", "a lion roaring", "a big cat growling"),
    R(TTD, r"/\d+_tropical_monkeys__", "monkey", "monkeys screeching", "a monkey chattering"),
    R(TTD, r"/\d+_toyland_bubble_generated__", "bubbles", "water bubbling", "bubbles rising in water"),
    R(TTD, r"/\d+_maglev_train_station_departure__|/\d+_monorail_train_station_departure__", "electric_train", "an electric train departing", "a modern train pulling out of a station"),
    # supertuxkart-data
    R(STK, r"/sfx/wilhelmscream\.ogg$", "man_scream", "a man screaming", "a loud scream"),
    R(STK, r"/sfx/airplane_jetengine\.ogg$", "jet_aircraft", "a jet engine roaring", "an airplane jet engine"),
    R(STK, r"/sfx/anvil\.ogg$", "metal_clang", "an anvil being struck", "a heavy metal clang"),
    R(STK, r"/sfx/ball_bounce\.ogg$", "ball_bounce", "a ball bouncing", "a bouncing rubber ball"),
    R(STK, r"/sfx/boing\.ogg$", "boing", "a cartoon boing", "a springy boing"),
    R(STK, r"/sfx/bowling_roll\.ogg$", "bowling", "a bowling ball rolling", "a heavy ball rolling down a lane"),
    R(STK, r"/sfx/bowling_shoot\.ogg$|/sfx/strike\.ogg$", "bowling", "bowling pins crashing", "a bowling strike"),
    R(STK, r"/sfx/break\.ogg$", "glass_break", "glass breaking", "something shattering"),
    R(STK, r"/sfx/car_(accel|revup)\.ogg$", "car_engine", "a car engine revving", "a car accelerating"),
    R(STK, r"/sfx/engine_(large|small)\.ogg$", "car_engine", "an engine idling", "a motor running"),
    R(STK, r"/sfx/clock\.ogg$", "clock_tick", "a clock ticking", "the ticking of a clock"),
    R(STK, r"/sfx/crash\d*\.ogg$", "car_crash", "a car crash", "a vehicle crashing"),
    R(STK, r"/sfx/exotic-birds", "bird_call", "exotic birds calling", "tropical birds singing"),
    R(STK, r"/sfx/explosion\.ogg$", "explosion", "an explosion", "a loud explosion"),
    R(STK, r"/sfx/fireworks_show\.ogg$", "fireworks", "a fireworks show", "fireworks exploding"),
    R(STK, r"/sfx/gnu_flute\.ogg$", "flute", "a flute playing a short melody", "a flute tune"),
    R(STK, r"/sfx/horn\.ogg$", "car_horn", "a car horn honking", "a horn beeping"),
    R(STK, r"/sfx/lenautile_restaurant\.ogg$", "restaurant_crowd", "people talking in a busy restaurant", "restaurant chatter"),
    R(STK, r"/sfx/machine_sound\.ogg$", "machinery", "machinery running", "an industrial machine humming"),
    R(STK, r"/sfx/metal_clang\.ogg$", "metal_clang", "a metal clang", "metal being struck"),
    R(STK, r"/sfx/rain\.ogg$", "rain", "heavy rain falling", "rain pouring down"),
    R(STK, r"/sfx/river_loop\.ogg$", "stream", "a river flowing", "water flowing over stones"),
    R(STK, r"/sfx/skid\.ogg$|/sara_the_racer/skid\.ogg$", "tire_skid", "tires skidding", "a car skidding on asphalt"),
    R(STK, r"/sfx/splash\.ogg$", "water_splash", "a splash of water", "something splashing into water"),
    R(STK, r"/sfx/static-radio\.ogg$", "radio_static", "radio static", "a radio hissing with static"),
    R(STK, r"/sfx/thunder\.ogg$", "thunder", "thunder rumbling", "a thunderclap"),
    R(STK, r"/sfx/waterfall_loop\.ogg$", "waterfall", "a waterfall", "water rushing down a waterfall"),
    R(STK, r"/sfx/wooden_bridge\.ogg$", "wood_creak", "a wooden bridge creaking", "creaking wooden planks"),
    R(STK, r"/black_forest/cow\.ogg$", "cow", "a cow mooing", "cattle mooing"),
    R(STK, r"/steamlocomotive\.ogg$", "steam_train", "a steam locomotive chugging", "a steam train running"),
    R(STK, r"/scotland/sheep\.ogg$", "sheep", "a sheep bleating", "sheep baaing"),
    # hedgewars-data (sound effects only; the voices/ folder is excluded)
    R(HW, r"/sounds/droplet\d\.ogg$", "water_drip", "a water droplet falling", "water dripping"),
    R(HW, r"/sounds/bee\.ogg$", "bee_buzz", "a bee buzzing", "buzzing insect"),
    R(HW, r"/sounds/explosion\.ogg$", "explosion", "an explosion", "a bomb exploding"),
    R(HW, r"/sounds/flamethrower\.ogg$", "flamethrower", "a flamethrower roaring", "a jet of fire"),
    R(HW, r"/sounds/blowtorch\.ogg$", "blowtorch", "a blowtorch hissing", "a gas torch burning"),
    R(HW, r"/sounds/(minigun|gun)\.ogg$", "machine_gun", "a machine gun firing", "rapid gunfire"),
    R(HW, r"/sounds/shotgunfire\.ogg$", "gunshot", "a shotgun blast", "a shotgun firing"),
    R(HW, r"/sounds/(shotgunreload|sniperreload)\.ogg$", "gun_reload", "a gun being reloaded", "the click of a gun being cocked"),
    R(HW, r"/sounds/pickhammer\.ogg$", "jackhammer", "a jackhammer drilling", "a pneumatic hammer"),
    R(HW, r"/sounds/drillgun\.ogg$", "power_drill", "a power drill whirring", "a drill spinning"),
    R(HW, r"/sounds/(plane|rcplane)\.ogg$", "propeller_plane", "a propeller plane flying overhead", "a small airplane flying"),
    R(HW, r"/sounds/splash\.ogg$", "water_splash", "a big splash in water", "something falling into water"),
    R(HW, r"/sounds/steam\.ogg$", "steam_hiss", "steam hissing", "a hiss of steam"),
    R(HW, r"/sounds/shutterclick\.ogg$", "camera_shutter", "a camera shutter clicking", "a camera click"),
    R(HW, r"/sounds/whistle\.ogg$", "whistle", "a whistle blowing", "a referee whistle"),
    R(HW, r"/sounds/kiss\.ogg$", "kiss", "a kiss", "a smooching kiss sound"),
    R(HW, r"/sounds/baseballbat\.ogg$", "bat_hit", "a baseball bat hitting a ball", "a bat striking"),
    R(HW, r"/sounds/ufo\.ogg$", "sci_fi_hum", "a flying saucer humming", "a sci-fi spaceship hum"),
    R(HW, r"/sounds/rubberduck_(die|drop)\.ogg$", "squeaky_toy", "a rubber duck squeaking", "a squeaky toy"),
    # wesnoth-1.16-data (ambience and weapon sounds; unit death/hit cries are ambiguous and skipped)
    R(WN, r"/sounds/ambient/birds", "forest_ambience", "birds chirping in a forest", "birdsong outdoors"),
    R(WN, r"/sounds/ambient/campfire", "campfire", "a campfire crackling", "a crackling fire"),
    R(WN, r"/sounds/ambient/night", "night_ambience", "crickets chirping at night", "a quiet night ambience"),
    R(WN, r"/sounds/ambient/morning", "forest_ambience", "birds singing in the morning", "morning birdsong"),
    R(WN, r"/sounds/ambient/ship", "ship_creak", "a wooden ship creaking at sea", "waves lapping against a ship"),
    R(WN, r"/sounds/ambient/wardrums", "war_drums", "war drums beating", "deep drums pounding"),
    R(WN, r"/sounds/bow(-puny)?\.ogg$", "bow_shot", "a bow being fired", "an arrow released from a bow"),
    R(WN, r"/sounds/crossbow\.ogg$", "crossbow", "a crossbow firing", "a crossbow bolt being shot"),
    R(WN, r"/sounds/(sword|dagger-swish|knife)\.ogg$", "sword_swing", "a sword swinging", "a blade slicing through the air"),
    R(WN, r"/sounds/(axe|hatchet)\.ogg$", "axe_strike", "an axe striking", "an axe chopping"),
    R(WN, r"/sounds/(club|mace\d?|flail|staff\d?)\.ogg$", "blunt_hit", "a heavy blunt hit", "a club striking"),
    R(WN, r"/sounds/(spear\d?|throw\d)\.ogg$", "whoosh", "a spear whooshing through the air", "a whoosh"),
    R(WN, r"/sounds/explosion\.ogg$", "explosion", "an explosion", "a loud blast"),
    R(WN, r"/sounds/(fire|flame-big|torch)\.ogg$", "fire_whoosh", "a burst of flame whooshing", "fire roaring"),
    R(WN, r"/sounds/gunshot\.ogg$|/sounds/thunderstick\.ogg$", "gunshot", "a gunshot", "an old gun firing"),
    R(WN, r"/sounds/lightning\.ogg$", "thunder", "a lightning strike and thunder", "a thunderclap"),
    R(WN, r"/sounds/horse-(elf-)?canter\.ogg$", "horse_hooves", "a horse galloping", "hooves galloping"),
    R(WN, r"/sounds/wolf-growl\d?\.ogg$", "dog_growl", "a wolf growling", "an animal growling"),
    R(WN, r"/sounds/bat-flapping\.ogg$", "wings_flapping", "wings flapping", "a bat flapping its wings"),
    R(WN, r"/sounds/gryphon-shriek", "bird_call", "a large bird of prey shrieking", "an eagle screeching"),
    R(WN, r"/sounds/hiss(-big)?\.ogg$", "snake_hiss", "a snake hissing", "a loud hiss"),
    R(WN, r"/sounds/open-chest\.ogg$", "creak", "a wooden chest creaking open", "a creaking lid"),
    R(WN, r"/sounds/gold\.ogg$", "coins", "coins jingling", "gold coins clinking"),
    R(WN, r"/sounds/cave-in\.ogg$|/sounds/rumble\.ogg$", "rumble", "rocks rumbling and falling", "a deep rumble"),
    R(WN, r"/sounds/water-blast\.ogg$", "water_splash", "a blast of water splashing", "a big splash"),
    R(WN, r"/sounds/bell\.ogg$", "bell", "a bell ringing", "a bell chime"),
    R(WN, r"/horn-signals/horn", "brass_horn_call", "a horn blowing a signal", "a hunting horn call"),
    # megaglest-data (animal and work sounds; unit voices are excluded by name)
    R(MG, r"/chicken/sounds/chicken_", "chicken", "a chicken clucking", "a hen clucking"),
    R(MG, r"/bull/sounds/bull_", "cow", "a bull bellowing", "a bull snorting"),
    R(MG, r"/sounds/pig_", "pig", "a pig grunting", "a pig squealing"),
    R(MG, r"/beehive/sounds/bee", "bee_buzz", "bees buzzing", "a swarm of bees"),
    R(MG, r"/thunderbird/sounds/eagle_fly", "wings_flapping", "large wings flapping", "a big bird flying"),
    R(MG, r"/sounds/worker_harvest_wood", "wood_chopping", "an axe chopping wood", "someone chopping wood"),
    R(MG, r"/sounds/worker_mine", "pickaxe_stone", "a pickaxe striking rock", "mining rock with a pickaxe"),
    R(MG, r"/sounds/(tech|magic)_building_fall", "building_collapse", "a building collapsing", "a structure crashing down"),
    # minetest-data
    R(MT, r"/carts_cart_moving", "cart_rolling", "a minecart rolling on rails", "a cart rattling on tracks"),
    R(MT, r"/default_break_glass", "glass_break", "glass breaking", "a window shattering"),
    R(MT, r"/default_chest_(open|close)", "creak", "a wooden chest opening", "a wooden lid creaking"),
    R(MT, r"/default_cool_lava", "steam_hiss", "lava cooling with a hiss", "hot rock hissing in water"),
    R(MT, r"/default_dig_choppy", "wood_chopping", "chopping wood", "an axe hitting wood"),
    R(MT, r"/default_dig_cracky", "pickaxe_stone", "a pickaxe hitting stone", "chipping at rock"),
    R(MT, r"/default_dirt_footstep|/default_gravel_footstep", "footsteps_gravel", "footsteps on gravel", "walking on dirt and gravel"),
    R(MT, r"/default_grass_footstep", "footsteps_grass", "footsteps on grass", "walking on grass"),
    R(MT, r"/default_sand_footstep", "footsteps_sand", "footsteps on sand", "walking on sand"),
    R(MT, r"/default_snow_footstep", "footsteps_snow", "footsteps in snow", "walking through snow"),
    R(MT, r"/default_wood_footstep", "footsteps_wood", "footsteps on wood", "walking on wooden planks"),
    R(MT, r"/default_hard_footstep", "footsteps_stone", "footsteps on stone", "walking on a hard floor"),
    R(MT, r"/default_water_footstep", "water_splash", "footsteps splashing in water", "wading through water"),
    R(MT, r"/default_gravel_dig|/default_gravel_dug", "digging", "digging in gravel", "a shovel scraping gravel"),
    R(MT, r"/default_furnace_active", "fire_crackle", "a furnace fire crackling", "a fire burning in a furnace"),
    R(MT, r"/doors_(steel_)?door_(open|close)", "door", "a door opening and closing", "a door creaking"),
    R(MT, r"/doors_fencegate_(open|close)", "door", "a gate creaking", "a wooden gate opening"),
    R(MT, r"/env_sounds_water", "stream", "water flowing", "a flowing stream"),
    R(MT, r"/env_sounds_lava", "bubbling", "lava bubbling", "a thick liquid bubbling"),
    R(MT, r"/fire_(fire|large|small)", "fire_crackle", "a fire crackling", "flames crackling"),
    R(MT, r"/fire_extinguish_flame", "steam_hiss", "a flame being extinguished with a hiss", "a hiss of a fire going out"),
    R(MT, r"/fire_flint_and_steel", "flint_strike", "flint and steel striking sparks", "striking a flint"),
    R(MT, r"/tnt_explode", "explosion", "an explosion", "a dynamite blast"),
    R(MT, r"/tnt_gunpowder_burning|/tnt_ignite", "fuse_burning", "a fuse burning and fizzing", "a sizzling fuse"),
    # minetest-mod-homedecor (household sounds; toaster, insert_coin and trash_all are not clear by name,
    # book_close is shorter than a clip)
    R(HD, r"/fake_fire/sounds/fire_small\.ogg$", "fire_crackle", "a small fire crackling", "flames crackling in a fireplace"),
    R(HD, r"/fake_fire/sounds/fire_extinguish\.ogg$", "steam_hiss", "a flame being put out with a hiss", "a fire going out with a hiss"),
    R(HD, r"/sounds/homedecor_faucet\.ogg$", "water_running", "water running from a tap", "a faucet running"),
    R(HD, r"/sounds/homedecor_toilet_flush\.ogg$", "toilet_flush", "a toilet flushing", "the flush of a toilet"),
    R(HD, r"/sounds/homedecor_shower\.ogg$", "shower", "a shower running", "water spraying from a shower"),
    R(HD, r"/sounds/homedecor_door_open\.ogg$", "door", "a door opening", "a door being opened"),
    R(HD, r"/sounds/homedecor_door_close\.ogg$", "door", "a door closing", "a door being shut"),
    R(HD, r"/sounds/homedecor_gate_open_close\.ogg$", "door", "a gate opening and closing", "a garden gate swinging shut"),
    R(HD, r"/sounds/homedecor_doorbell\.ogg$", "doorbell", "a doorbell ringing", "a doorbell chime"),
    # flare-game (environment loops; open_fire.ogg is left out beside open_fire_loop.ogg, likely the same recording)
    R(FL, r"/soundfx/environment/forest_owl_loop\.ogg$", "owl", "an owl hooting in a forest at night", "the hoot of an owl"),
    R(FL, r"/soundfx/environment/raven_loop\.ogg$", "crow", "a raven cawing", "crows cawing"),
    R(FL, r"/soundfx/environment/bird_twitter_loop\.ogg$", "songbird", "birds twittering", "small birds chirping"),
    R(FL, r"/soundfx/environment/river_loop\.ogg$", "stream", "a river flowing", "water flowing in a river"),
    R(FL, r"/soundfx/environment/rain\.ogg$", "rain", "rain falling", "steady rain"),
    R(FL, r"/soundfx/environment/(cave_)?wind_loop\.ogg$", "wind", "wind blowing", "a steady wind howling"),
    R(FL, r"/soundfx/environment/open_fire_loop\.ogg$", "fire_crackle", "an open fire crackling", "flames crackling"),
    R(FL, r"/soundfx/environment/cave_droplets_loop\.ogg$", "water_drip", "water dripping in a cave", "drops of water falling"),
    R(FL, r"/soundfx/environment/minecart\.ogg$", "cart_rolling", "a minecart rolling on rails", "a cart rattling on tracks"),
    R(FL, r"/soundfx/environment/falling_rocks\.ogg$", "rumble", "rocks falling", "a rockfall rumbling"),
    R(FL, r"/fantasycore/soundfx/heartbeat\.ogg$", "heartbeat", "a heart beating", "a heartbeat"),
    R(FL, r"/fantasycore/soundfx/door_open\.ogg$", "door", "a door opening", "a door creaking open"),
    # sonic-pi-samples
    R(SP, r"/ambi_choir\.", "choir", "a choir singing a sustained chord", "voices singing together"),
    R(SP, r"/ambi_(drone|haunted_hum|soft_buzz)\.", "ambient_drone", "a low ambient drone", "a dark humming drone"),
    R(SP, r"/ambi_glass_(hum|rub)\.", "glass_harmonica", "a wine glass being rubbed and singing", "a humming glass"),
    R(SP, r"/ambi_(swoosh|dark_woosh)\.|/perc_(swash|swoosh)\.", "whoosh", "a swoosh", "a fast whoosh"),
    R(SP, r"/bass_\w+\.", "synth_bass", "a synth bass note", "a deep electronic bass"),
    R(SP, r"/(bd_\w+|drum_bass_\w+|drum_heavy_kick|elec_(hollow|soft)_kick)\.", "kick_drum", "a kick drum hit", "a bass drum thump"),
    R(SP, r"/drum_cowbell\.", "cowbell", "a cowbell hit", "a cowbell being struck"),
    R(SP, r"/drum_cymbal_(closed|pedal)\.", "hi_hat", "a closed hi-hat", "a hi-hat tick"),
    R(SP, r"/drum_cymbal_(open|hard|soft)\.", "hi_hat_open", "an open hi-hat", "a sizzling open hi-hat"),
    R(SP, r"/drum_roll\.", "drum_roll", "a snare drum roll", "a drum roll"),
    R(SP, r"/(drum_snare_\w+|sn_\w+|elec_(\w+_)?snare)\.", "snare_drum", "a snare drum hit", "a crisp snare"),
    R(SP, r"/drum_splash_\w+\.", "splash_cymbal", "a splash cymbal", "a short cymbal splash"),
    R(SP, r"/drum_tom_\w+\.|/elec_fuzz_tom\.", "tom_drum", "a tom drum hit", "a tom-tom"),
    R(SP, r"/elec_(beep|blip\d?|blup|ping|plip|twip|tick)\.", "electronic_beep", "an electronic blip", "a short synth beep"),
    R(SP, r"/guit_(e_fifths|e_slide|em|harmonics)\.", "electric_guitar", "an electric guitar chord", "a guitar strumming"),
    R(SP, r"/loop_(amen|amen_full|breakbeat)\.", "drum_beat", "a breakbeat drum loop", "drums playing a fast breakbeat"),
    R(SP, r"/loop_tabla\.|/tabla_\w+\.", "tabla", "a tabla drum", "tabla being played"),
    R(SP, r"/misc_burp\.", "burp", "a person burping", "a loud burp"),
    R(SP, r"/misc_crow\.", "crow", "a crow cawing", "a cawing crow"),
    R(SP, r"/perc_snap\d?\.", "finger_snap", "a finger snap", "fingers snapping"),
    R(SP, r"/perc_door\.", "door", "a door knock", "a door slamming"),
    R(SP, r"/perc_till\.", "cash_register", "a cash register ringing", "a till opening"),
    R(SP, r"/perc_bell\d?\.", "bell", "a bell ringing", "a struck bell"),
    R(SP, r"/vinyl_(backspin|rewind|scratch)\.", "vinyl_scratch", "a DJ scratching a vinyl record", "a record scratch"),
    R(SP, r"/vinyl_hiss\.", "vinyl_crackle", "vinyl record crackle and hiss", "an old record crackling"),
]

# Real recorded speech. One reader per folder; the reader's sex comes from the folder's median F0
# (speaker_f0.py: under 160 Hz a man, 175-270 Hz a woman). Folders left out as ambiguous or
# child-like: klettres ar (281 Hz), he (170 Hz), pt_BR (272/311 Hz), tn (308/356 Hz); ktuberling's
# other languages mix several readers in one folder.
# klettres-data: <lang>/alpha/<letter>.ogg (a letter of the alphabet) and <lang>/syllab/*.ogg
# (syllables; short words in en/). language folder: (language, alpha reader, syllab reader).
# ml/syllab (465 syllables, 21 min of one reader) is left out: it alone would be the corpus'
# largest category.
KLETTRES_READERS: dict[str, tuple[str, str, str | None]] = {
    "cs": ("Czech", "woman", "woman"), "da": ("Danish", "man", "man"), "de": ("German", "woman", "man"),
    "en": ("English", "man", "man"), "en_gb": ("English", "woman", "woman"), "es": ("Spanish", "woman", "woman"),
    "fr": ("French", "man", "man"), "hu": ("Hungarian", "man", "man"), "it": ("Italian", "woman", "woman"),
    "lt": ("Lithuanian", "man", "man"), "ml": ("Malayalam", "man", None), "nb": ("Norwegian", "woman", None),
    "nds": ("Low German", "man", "man"), "nl": ("Dutch", "woman", "woman"), "ru": ("Russian", "woman", "woman"),
    "uk": ("Ukrainian", "woman", "woman"),
}
# ktuberling-data: sounds/<lang>/<object>.ogg, one spoken word (the name of a toy piece) each.
KTUBERLING_READERS: dict[str, tuple[str, str]] = {"uk": ("Ukrainian", "woman"), "wa": ("Walloon", "man")}
# Byte-identical copies of other words in the same folder (uk: bow, egypt_man, egypt_road, egypt_woman,
# moon_star, pizzeria_anchovy): left out so that one recording cannot land in both splits.
KTUBERLING_COPIES = r"(tux-bow|tv_man|tv_path|tv_woman|xmas_star|tux-fish)\.ogg$"


def speech_rule(package: str, pattern: str, language: str, reader: str, what: str) -> Rule:
    """Rule for real recorded speech: English goes to male_speech/female_speech, other languages
    to speech_<language> (the categories of the espeak-ng renders). what: 'a letter of the alphabet'..."""
    sex = "male" if reader == "man" else "female"
    if language == "English":
        return R(package, pattern, f"{sex}_speech", f"a {reader} saying {what}", f"a {reader} speaking", f"a {sex} voice saying {what}")
    return R(package, pattern, "speech_" + language.lower().replace(" ", "_"), f"a {reader} saying {what} in {language}",
             f"a {reader} speaking {language}", f"speech in {language}")


def speech_rules() -> list[Rule]:
    """Rules of the real recorded speech of klettres-data and ktuberling-data (tables above)."""
    rules = []
    for lang, (language, alpha_reader, syllab_reader) in KLETTRES_READERS.items():
        rules.append(speech_rule(KL, rf"/klettres/{lang}/alpha/[^/]+$", language, alpha_reader, "a letter of the alphabet"))
        if syllab_reader:
            what = "a short word" if lang in ("en", "en_gb") else "a syllable"
            rules.append(speech_rule(KL, rf"/klettres/{lang}/syllab/[^/]+$", language, syllab_reader, what))
    for lang, (language, reader) in KTUBERLING_READERS.items():
        pattern = rf"/ktuberling/sounds/{lang}/(?!{KTUBERLING_COPIES})[^/]+\.ogg$"
        rules.append(speech_rule(KT, pattern, language, reader, "a single word"))
    return rules



# asterisk-core-sounds-<lang>-wav: telephone (IVR) prompts read by one professional voice per
# language, 8 kHz WAV under usr/share/asterisk/sounds/<lang>_<COUNTRY>_<sex>_<name>/. English is
# taken whole (sentences, single words such as weekdays and symbol names, numbers, letters and the
# phonetic alphabet: about 25 min);
# the other languages only their voicemail prompts (vm-*: about 6 min each) so that no language
# becomes one of the corpus' largest categories. Left out as not speech (core-sounds-<lang>.txt
# describes them): silence/, beeps and tones, the conference join/leave beeps, tt-monkeys (monkeys
# screaming), and vm-intro (ends in a tone).
ASTERISK_NOT_SPEECH = (r"(?!.*(/silence/|/(ascending|descending)-2tone\.|/beep(err)?\.|/confbridge-(join|leave)\."
                       r"|/tt-monkeys\.|/vm-intro\.))")
# language code: (language, folder, reader). Readers by median F0 (speaker_f0.py): en 205 Hz, es 211 Hz,
# fr 208 Hz, ru 222 Hz (women, as the folder names say). The Italian folder says m (Carlo Flora) but
# measures 186 Hz on this 8 kHz audio, so its captions name no sex ("a person").
ASTERISK_READERS: dict[str, tuple[str, str, str]] = {
    "en": ("English", "en_us_f_allison", "woman"), "es": ("Spanish", "es_mx_f_allison", "woman"),
    "fr": ("French", "fr_ca_f_june", "woman"), "it": ("Italian", "it_it_m_carlo", "person"),
    "ru": ("Russian", "ru_ru_f_ivrvoiceru", "woman"),
}
TELEPHONE = "a recorded telephone announcement"


# kajongg: voices/<reader>/ and voices/de/<reader>/, one reader per folder calling Mah Jongg tiles and
# claims ("bamboo one", "east wind", "pung", "mah jongg"; 0.5-1.2 s each). Readers by median F0: en male2
# 105 Hz, female1 175 Hz, female2 218 Hz; de male1 153 Hz, male2 134 Hz, female2 226 Hz. Left out as
# ambiguous: en male1 (167 Hz) and de female1 (166 Hz).
KAJONGG_READERS: dict[str, tuple[str, str]] = {
    "male2": ("English", "man"), "female1": ("English", "woman"), "female2": ("English", "woman"),
    "de/male1": ("German", "man"), "de/male2": ("German", "man"), "de/female2": ("German", "woman"),
}


def asterisk_rules() -> list[Rule]:
    """Rules of the real recorded speech of the asterisk-core-sounds-<lang>-wav packages (table above)."""
    rules = []
    for lang, (language, folder, reader) in ASTERISK_READERS.items():
        package, base = f"asterisk-core-sounds-{lang}-wav", rf"/asterisk/sounds/{folder}"
        if language == "English":
            rules += [
                R(package, rf"^{ASTERISK_NOT_SPEECH}.*{base}/digits/(h-)?\d+\.wav$", "female_speech",
                  "a woman saying a number", "a woman speaking", "a female voice saying a number"),
                R(package, rf"^{ASTERISK_NOT_SPEECH}.*{base}/letters/[a-z]\.wav$", "female_speech",
                  "a woman saying a letter of the alphabet", "a woman speaking", "a female voice spelling a letter"),
                R(package, rf"^{ASTERISK_NOT_SPEECH}.*{base}/phonetic/[^/]+\.wav$", "female_speech",
                  "a woman saying a word of the phonetic alphabet", "a woman speaking", "a female voice spelling"),
                R(package, rf"^{ASTERISK_NOT_SPEECH}.*{base}/([^/]+/)?[^/]+\.wav$", "female_speech",
                  "a woman speaking", "a woman talking", "a female voice talking", f"{TELEPHONE} by a woman"),
            ]
        else:
            category = "speech_" + language.lower()
            rules.append(R(package, rf"^{ASTERISK_NOT_SPEECH}.*{base}/vm-[^/]+\.wav$", category,
                           f"a {reader} speaking {language}", f"a {reader} saying a sentence in {language}",
                           f"speech in {language}", f"{TELEPHONE} in {language}"))
    return rules


RULES += speech_rules()
RULES += asterisk_rules()
RULES += [speech_rule(KJ, rf"/kajongg/voices/{folder}/[^/]+\.ogg$", language, reader, "a short phrase")
          for folder, (language, reader) in KAJONGG_READERS.items()]
# csoundqt-examples: the example source sounds whose names and pitch (speaker_f0.py) agree; fox.wav
# (2.8 s, 106 Hz) is a man speaking. ClassGuit.wav (a shorter take of ClassicalGuitar?) and 808loop.wav
# (a stereo copy of 808loopMono.wav) are left out so that one recording cannot sit in both splits.
CQ_DIR = r"/csoundqt/examples/sourcematerials/"
RULES += [
    R(CQ, CQ_DIR + r"fox\.wav$", "male_speech", "a man speaking", "a male voice talking", "a man saying a few words"),
    R(CQ, CQ_DIR + r"seashore\.wav$", "ocean_waves", "waves washing onto a shore", "ocean waves on the seashore"),
    R(CQ, CQ_DIR + r"flute\.wav$", "flute", "a flute playing", "a flute melody"),
    R(CQ, CQ_DIR + r"violins\.wav$", "violin", "violins playing", "a section of violins"),
    R(CQ, CQ_DIR + r"choir\.wav$", "choir", "a choir singing", "voices singing together"),
    R(CQ, CQ_DIR + r"classicalguitar\.wav$", "acoustic_guitar", "a classical guitar playing", "an acoustic guitar being plucked"),
    R(CQ, CQ_DIR + r"808loopmono\.wav$", "drum_beat", "a drum machine beat", "an 808 drum loop"),
]

# Hydrogen drum-kit instruments: regex on the lower-cased <instrument><name> of drumkit.xml.
# First match wins; instruments not listed here are left out.
DRUM_INSTRUMENTS: list[tuple[str, str, str, tuple[str, ...]]] = [
    (r"^\W*[a-g][#b]?\s*(major|minor|maj|min|m7)", "acoustic_guitar_strum", "an acoustic guitar strumming a chord", ("a guitar chord being strummed", "a strummed guitar chord")),
    (r"kick|bass ?drum|\bbd\b|\bkik\b", "kick_drum", "a kick drum hit", ("a bass drum thump", "a single kick drum beat")),
    (r"side ?stick|\bstick\b|rim", "rimshot", "a snare rimshot", ("a stick hitting the rim of a drum",)),
    (r"snare|\bsd\b", "snare_drum", "a snare drum hit", ("a crisp snare drum", "a single snare hit")),
    (r"(hi-?hat|\bhat\b).*(open|\bop\b)|(open|\bop\b).*(hi-?hat|\bhat\b|\bhh\b)|\bohh?\b", "hi_hat_open", "an open hi-hat", ("a sizzling open hi-hat cymbal",)),
    (r"hi-?hat|\bhat\b|\bhh\b|\bchh\b", "hi_hat", "a closed hi-hat", ("a hi-hat tick", "a tight hi-hat hit")),
    (r"floor ?tom|\btom", "tom_drum", "a tom drum hit", ("a tom-tom drum", "a single tom hit")),
    (r"crash", "crash_cymbal", "a crash cymbal", ("a cymbal crash",)),
    (r"ride.*(bell|cup)|(bell|cup).*ride|paiste bell", "ride_bell", "the bell of a ride cymbal", ("a ride cymbal bell ping",)),
    (r"ride", "ride_cymbal", "a ride cymbal", ("a ride cymbal ringing",)),
    (r"splash", "splash_cymbal", "a splash cymbal", ("a short cymbal splash",)),
    (r"china", "china_cymbal", "a china cymbal", ("a trashy china cymbal crash",)),
    (r"cowbell", "cowbell", "a cowbell hit", ("a cowbell being struck",)),
    (r"clap", "hand_clap", "a hand clap", ("hands clapping once",)),
    (r"conga", "conga", "a conga drum", ("a conga being hit",)),
    (r"bongo", "bongo", "a bongo drum", ("a bongo being tapped",)),
    (r"shaker|maraca", "shaker", "a shaker", ("a maraca being shaken",)),
    (r"tambourine", "tambourine", "a tambourine", ("a tambourine jingle",)),
    (r"clave", "claves", "claves clicking", ("a wooden clave hit",)),
    (r"woodblock", "woodblock", "a woodblock hit", ("a wooden block being struck",)),
    (r"cajon", "cajon", "a cajon being slapped", ("a box drum hit",)),
    (r"waterglass", "glass_clink", "a water glass being tapped", ("a glass ringing when struck",)),
    (r"djembe", "djembe", "a djembe drum", ("a hand drum being struck",)),
    (r"sangban|dununba|kenkeni", "dunun_drum", "an African dunun drum hit", ("a deep West African bass drum",)),
    (r"triangle", "triangle", "a triangle ringing", ("a triangle being struck",)),
    (r"snap", "finger_snap", "a finger snap", ("fingers snapping",)),
    (r"whistle", "whistle", "a whistle blowing", ("a short whistle",)),
]


def match_rule(package: str, relpath: str, rules: list[Rule] = RULES) -> Rule | None:
    """First rule of `package` whose pattern occurs in the lower-cased relpath; None if excluded or unnamed."""
    path = relpath.lower()
    if EXCLUDE.search(path) and package not in EXCLUDE_EXEMPT:
        return None
    for rule in rules:
        if rule.package == package and re.search(rule.pattern, path):
            return rule
    return None


def match_drum_instrument(name: str) -> Rule | None:
    """Rule for a Hydrogen instrument name (package and pattern left empty), or None if unnamed."""
    lowered = name.lower()
    for pattern, category, caption, paraphrases in DRUM_INSTRUMENTS:
        if re.search(pattern, lowered):
            return Rule("", "", category, caption, paraphrases)
    return None
