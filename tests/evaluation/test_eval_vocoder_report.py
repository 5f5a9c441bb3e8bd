"""Copy synthesis and the vocoder report on the tiny random pipeline and a tiny dataset."""

from __future__ import annotations

import json
import math

import pytest
import torch

from audiodiff.evaluation.copy_synthesis import REAL, build_systems, copy_syntheses, vae_round_trip
from audiodiff.evaluation.measures import PitchSettings
from audiodiff.evaluation.vocoder_report import COLUMNS, ClipKinds, VocoderEvalConfig, evaluate_vocoders, select_clips
from audiodiff.errors import InvalidArgumentError
from audiodiff.models.griffin_lim import GriffinLimVocoder
from tests.conftest import make_audiofolder, tone


def test_clip_kinds_from_captions():
    kinds = ClipKinds()
    assert kinds.of("A man speaking slowly") == {"speech", "pitched"}
    assert kinds.of("a piano playing a chord") == {"pitched"}
    assert kinds.of("heavy rain on a roof") == set()


def test_systems_of_a_hifigan_pipeline(tiny_pipeline):
    names = [s.name for s in build_systems(tiny_pipeline)]
    assert names == [REAL, "hifigan", "griffin-lim", "vae+hifigan", "vae+griffin-lim"]


def test_resynthesis_lengths_identity_and_vae(tiny_pipeline):
    audio = torch.from_numpy(tone(440.0, 0.8))[: 80 * 160]
    systems = build_systems(tiny_pipeline)
    out = copy_syntheses(tiny_pipeline, systems, audio)
    assert list(out) == [s.name for s in systems]
    assert torch.equal(out[REAL], audio)
    for name in ("hifigan", "griffin-lim", "vae+griffin-lim"):
        assert out[name].shape == audio.shape
    log_mel = tiny_pipeline.mel(audio[None])
    assert vae_round_trip(tiny_pipeline, audio[None]).shape == log_mel.shape
    # Griffin-Lim of the clip's own mel is closer to the clip than Griffin-Lim after the (random) VAE
    from audiodiff.evaluation.vocoder_metrics import mel_l1_distance

    direct = mel_l1_distance(out["griffin-lim"][None], audio[None], tiny_pipeline.mel)
    through_vae = mel_l1_distance(out["vae+griffin-lim"][None], audio[None], tiny_pipeline.mel)
    assert direct < through_vae


def test_select_clips(tmp_path):
    data = make_audiofolder(tmp_path / "d", [(f"tone {i}", 200.0 + 50 * i, 0.5) for i in range(10)])
    assert len(select_clips(data, VocoderEvalConfig(split="all", max_clips=4))) == 4
    validation = select_clips(data, VocoderEvalConfig(validation_fraction=0.3))
    assert 1 <= len(validation) < 10
    with pytest.raises(InvalidArgumentError, match="split"):
        select_clips(data, VocoderEvalConfig(split="test"))


def test_report_on_the_tiny_pipeline(tiny_pipeline, tmp_path):
    pytest.importorskip("visqol", reason="the eval extra is not installed (pip install -e '.[eval]')")
    data = make_audiofolder(tmp_path / "data", [("a man speaking", 150.0, 1.6), ("a low hum", 220.0, 1.6),
                                                ("a door closing", 900.0, 0.5)])
    config = VocoderEvalConfig(split="all", max_seconds=1.5, seeds=1, duration=1.0, num_inference_steps=2,
                               speech_prompts=("a man speaking",), pitch=PitchSettings(model="tiny"))
    out = tmp_path / "eval"
    result = evaluate_vocoders(tiny_pipeline, data, out, config)
    saved = json.loads((out / "vocoder_eval.json").read_text())
    assert saved["systems"] == result["systems"] and len(saved["clips"]) == 3
    summary = saved["summary"]
    real = summary[REAL]
    assert real["mel_l1"]["mean"] == 0.0 and real["mrstft"]["mean"] < 1e-4 and real["mrstft"]["count"] == 3
    assert real["visqol"]["count"] == 2  # the 0.5 s clip is shorter than ViSQOL's smallest patch
    assert real["pesq_wb"]["count"] == 1 and real["vuv_f1"]["count"] == 2  # speech: 1 clip; pitched: speech + hum
    for name in result["systems"][1:]:  # the ceiling beats every resynthesis of a random model
        assert summary[name]["visqol"]["mean"] < real["visqol"]["mean"]
        assert summary[name]["mel_l1"]["mean"] > 0
    assert summary["hifigan"]["dnsmos_ovrl"]["count"] == 1  # one generated clip through each vocoder
    assert summary["vae+hifigan"]["dnsmos_ovrl"]["count"] == 0
    table = (out / "vocoder_eval.md").read_text().splitlines()
    assert len(table) == 2 + len(result["systems"]) and all(COLUMNS[c][0] in table[0] for c in COLUMNS)
    assert not math.isnan(summary["griffin-lim"]["visqol"]["mean"])


def test_griffin_lim_model_is_not_listed_twice(tiny_pipeline):
    tiny_pipeline.vocoder = GriffinLimVocoder.from_mel(tiny_pipeline.mel)
    assert [s.name for s in build_systems(tiny_pipeline)] == [REAL, "griffin-lim", "vae+griffin-lim"]


def test_cli_rejects_a_malformed_vocoder_option(capsys, tmp_path):
    from audiodiff.cli import main

    code = main(["evaluate-vocoder", "--data", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--vocoder", "nope"])
    assert code == 1 and "NAME=MODEL_DIR" in capsys.readouterr().err
