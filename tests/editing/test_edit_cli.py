"""`audiodiff edit / inpaint / extend / bandwidth-extend` on the tiny model: outputs, input handling, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiodiff.cli import main

SR = 16000


def sound(seconds: float, sample_rate: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return np.stack([mono] * channels, axis=1).astype(np.float32) if channels > 1 else mono.astype(np.float32)


@pytest.fixture()
def input_wav(tmp_path):
    path = tmp_path / "in.wav"
    sf.write(path, sound(0.5), SR)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("command", "options", "seconds"),
    [
        ("edit", ["--strength", "0.5"], 0.5),
        ("inpaint", ["--start", "0.1", "--end", "0.3"], 0.5),
        ("inpaint", ["--fmin", "1000", "--fmax", "3000"], 0.5),
        ("extend", ["--seconds", "0.3"], 0.8),
        ("bandwidth-extend", ["--cutoff", "4000"], 0.5),
    ],
)
def test_each_mode_writes_one_wav(capsys, tiny_pipeline_dir, input_wav, tmp_path, command, options, seconds):
    output = tmp_path / "out.wav"
    code, out, err = run(capsys, command, str(input_wav), "a cat meowing", "-o", str(output), "--model",
                         str(tiny_pipeline_dir), "--steps", "2", *options)
    assert code == 0, err
    assert out.strip() == str(output)
    audio, rate = sf.read(output)
    assert rate == SR and audio.shape == (round(seconds * SR),) and np.abs(audio).max() > 0


def test_stereo_44k_input_is_mixed_and_resampled_and_the_default_name_used(capsys, tiny_pipeline_dir, tmp_path,
                                                                          monkeypatch):
    sf.write(tmp_path / "stereo.flac", sound(0.5, 44100, channels=2), 44100)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "edit", "stereo.flac", "rain", "--model", str(tiny_pipeline_dir), "--steps", "2")
    assert code == 0, err
    assert out.strip() == "stereo_edit.wav"
    audio, rate = sf.read(tmp_path / "stereo_edit.wav")
    assert rate == SR and audio.shape == (8000,)


def test_bandwidth_extend_measures_the_cutoff_and_refuses_full_band_input(capsys, tiny_pipeline_dir, tmp_path, caplog):
    from audiodiff.audio import resample

    narrow = resample(resample(sound(0.5), SR, 8000), 8000, SR)
    sf.write(tmp_path / "phone.wav", narrow, SR)
    caplog.set_level("INFO")
    code, _, err = run(capsys, "bandwidth-extend", str(tmp_path / "phone.wav"), "speech", "-o",
                       str(tmp_path / "wide.wav"), "--model", str(tiny_pipeline_dir), "--steps", "2")
    assert code == 0, err
    assert "band ends at" in caplog.text
    noise = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.3
    sf.write(tmp_path / "full.wav", noise, SR)
    code, _, err = run(capsys, "bandwidth-extend", str(tmp_path / "full.wav"), "speech", "--model",
                       str(tiny_pipeline_dir))
    assert code == 1 and "no band to extend" in err and "--cutoff" in err


def write_garbage(path):
    path.write_bytes(b"RIFF not really a wav file" * 10)


def write_empty(path):
    sf.write(path, np.zeros(0, np.float32), SR)


def write_long(path):
    sf.write(path, np.zeros(301 * 100, np.float32), 100)  # 301 s at 100 Hz: refused from the header


@pytest.mark.parametrize(
    ("write", "command", "options", "expected"),
    [
        (write_garbage, "edit", [], "Cannot decode"),
        (write_empty, "edit", [], "holds no samples"),
        (write_long, "edit", [], "at most 300 s"),
        (None, "edit", [], "does not exist"),
        (sound, "edit", ["--strength", "1.5"], "strength must be a number in [0, 1]"),
        (sound, "inpaint", ["--start", "0.2", "--end", "0.9"], "inside the clip (0..0.5 s)"),
        (sound, "inpaint", ["--start", "0.3", "--end", "0.2"], "start < end"),
        (sound, "inpaint", ["--fmin", "3000", "--fmax", "3001"], "no mel band centre"),
        (sound, "inpaint", ["--fmax", "12000"], "mel range"),
        (sound, "extend", ["--seconds", "0"], "--seconds must be"),
        (sound, "edit", ["--steps", "0"], "num_inference_steps"),
        (sound, "edit", ["-o", "out.mp3"], "must be a .wav"),
    ],
)
def test_bad_input_is_refused_in_one_line_with_the_fix(capsys, tiny_pipeline_dir, tmp_path, monkeypatch, write,
                                                        command, options, expected):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "in.wav"
    if write is sound:
        sf.write(path, sound(0.5), SR)
    elif write is not None:
        write(path)
    code, out, err = run(capsys, command, str(path), "rain", "--model", str(tiny_pipeline_dir), *options)
    assert code == 1 and out == ""
    assert err.startswith("audiodiff: error:") and expected in err and err.count("\n") == 1
