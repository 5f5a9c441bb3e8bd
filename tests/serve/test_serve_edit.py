"""The page's "Edit audio" tab on the tiny model: uploads made mono at the model's rate, the CLI's edits, bad
input as a message."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from audiodiff.audio import encode_wav
from audiodiff.errors import InvalidArgumentError

SAMPLE_RATE = 16000


def tone_pcm16(seconds: float, rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def test_upload_becomes_mono_float_at_the_model_rate():
    from audiodiff.serve.edit_request import upload_to_waveform

    stereo = tone_pcm16(0.5, rate=8000, channels=2)
    waveform = upload_to_waveform((8000, stereo), SAMPLE_RATE)
    assert waveform.dtype == np.float32 and waveform.shape == (8000,)
    assert 0.35 < np.abs(waveform).max() < 0.45
    for upload in (None, (16000, np.zeros(0, dtype=np.int16))):
        with pytest.raises(InvalidArgumentError):
            upload_to_waveform(upload, SAMPLE_RATE)


def edit_inputs(mode="edit", prompt="a cat meowing", strength=0.5, start="", end="", fmin="", seconds=2.0, seed=3):
    """Widget values by name (EDIT_INPUT_NAMES; the region boxes are text, blank means none), 3 steps."""
    return dict(mode=mode, prompt=prompt, negative_prompt="", strength=strength, start=start, end=end, fmin=fmin,
                fmax="", seconds=seconds, num_inference_steps=3, guidance_scale=3.0, guidance_rescale=0.0, seed=seed,
                scheduler="model default")


def test_edit_gives_the_cli_audio(engine, tiny_pipeline_dir, tmp_path):
    from audiodiff.edit_jobs import EditJob, run_edit
    from audiodiff.serve.page import EDIT_INPUT_NAMES, handle_edit

    assert set(edit_inputs()) == set(EDIT_INPUT_NAMES)
    samples = tone_pcm16(1.0)
    sf.write(tmp_path / "in.wav", samples, SAMPLE_RATE, subtype="PCM_16")
    cli = run_edit(EditJob(mode="edit", input=tmp_path / "in.wav", prompt="a cat meowing", output=tmp_path / "out.wav",
                           mode_options={"strength": 0.5}, num_inference_steps=3, guidance_scale=3.0, seed=3,
                           model=tiny_pipeline_dir,
                           device="cpu", dtype="float32"))
    message, clips = handle_edit(engine, (SAMPLE_RATE, samples), edit_inputs())
    assert message == "edit: 1 s (seed 3).", message
    served = sf.read(io.BytesIO(encode_wav(clips[0].audio, SAMPLE_RATE)), dtype="int16")[0]
    np.testing.assert_array_equal(served, sf.read(str(cli), dtype="int16")[0])


def test_extend_and_inpaint(engine):
    from audiodiff.serve.page import handle_edit

    upload = (SAMPLE_RATE, tone_pcm16(1.0))
    message, clips = handle_edit(engine, upload, edit_inputs(mode="extend", seconds=1.5))
    assert clips and clips[0].audio.shape == (40000,), message
    message, clips = handle_edit(engine, upload, edit_inputs(mode="inpaint", strength=1.0, start="0.25", end=" 0.75"))
    assert clips and clips[0].audio.shape == (16000,), message
    message, clips = handle_edit(engine, upload, edit_inputs(mode="inpaint", strength=1.0, fmin="4000"))
    assert clips and clips[0].audio.shape == (16000,), message


@pytest.mark.parametrize("upload_seconds, inputs, fragment", [
    (None, edit_inputs(), "No input audio"),
    (1.0, edit_inputs(mode="remix"), "mode must be one of"),
    (1.0, edit_inputs(strength=1.5), "strength"),
    (1.0, edit_inputs(prompt=""), "empty"),
    (1.0, edit_inputs(mode="inpaint", start="0.8", end="0.2"), "time range 0.8..0.2"),
    (1.0, edit_inputs(mode="inpaint", start="soon"), "start must be a number or left blank"),
    (3.0, edit_inputs(mode="extend", seconds=2.0), "at most 4 s"),
    (5.0, edit_inputs(), "at most 4 s"),
])
def test_bad_edits_are_messages(engine, upload_seconds, inputs, fragment):
    from audiodiff.serve.page import handle_edit

    upload = None if upload_seconds is None else (SAMPLE_RATE, tone_pcm16(upload_seconds))
    message, clips = handle_edit(engine, upload, inputs)
    assert message.startswith("Error: ") and fragment in message and clips == [], message
