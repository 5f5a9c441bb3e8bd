"""The warm model of ``audiodiff serve``: clips as asked, the CLI's audio, one at a time, busy when full."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from audiodiff.errors import InvalidArgumentError
from audiodiff.serve.request import ClipRequest


def test_clips_have_the_asked_duration_and_seeds(engine):
    request = ClipRequest(prompt="dog barking", duration=0.75, num_inference_steps=2, seed=7, num_clips=2)
    clips = engine.generate(request)
    assert [clip.seed for clip in clips] == [7, 8]
    for clip in clips:
        assert clip.sample_rate == 16000 and clip.audio.shape == (12000,) and clip.audio.dtype == np.float32
        assert 0 < np.abs(clip.audio).max() <= 1
    assert not np.allclose(clips[0].audio, clips[1].audio)


def test_same_audio_as_audiodiff_generate(engine, tiny_pipeline_dir, tmp_path):
    from audiodiff.audio import encode_wav
    from audiodiff.generate import GenerateJob, run_generate

    request = ClipRequest(prompt="rain on a roof", negative_prompt="noise", duration=0.5, num_inference_steps=3,
                          guidance_scale=2.5, seed=11, num_clips=2, scheduler="ddim")
    paths = run_generate(GenerateJob(prompts=[request.prompt], output=tmp_path, duration=0.5, num_inference_steps=3,
                                     guidance_scale=2.5, negative_prompt="noise", seed=11, num_waveforms_per_prompt=2,
                                     scheduler="ddim", model=tiny_pipeline_dir, device="cpu", dtype="float32"))
    for clip, path in zip(engine.generate(request), paths):
        served = sf.read(io.BytesIO(encode_wav(clip.audio, clip.sample_rate)), dtype="int16")[0]
        np.testing.assert_array_equal(served, sf.read(str(path), dtype="int16")[0])


def test_scheduler_is_per_request(engine):
    base = ClipRequest(prompt="wind", duration=0.5, num_inference_steps=3)
    first = engine.generate(base)[0].audio
    other = engine.generate(ClipRequest(prompt="wind", duration=0.5, num_inference_steps=3, scheduler="euler"))[0].audio
    again = engine.generate(base)[0].audio
    assert not np.allclose(first, other)
    np.testing.assert_array_equal(first, again)


def test_duration_is_capped_by_the_model(tiny_pipeline_dir):
    from audiodiff.loading import load_pipeline
    from audiodiff.serve.engine import ClipEngine
    from audiodiff.serve.request import ServeLimits

    engine = ClipEngine(load_pipeline(tiny_pipeline_dir, "cpu", "float32"), ServeLimits(max_duration=60.0))
    assert engine.limits.max_duration == 10.0  # configs/model/tiny.yaml
    with pytest.raises(InvalidArgumentError, match="at most 10 seconds"):
        engine.parse({"prompt": "rain", "duration": 12})


def test_full_queue_is_busy_at_once_and_frees_its_places(engine, monkeypatch):
    """queue_size 1: one request runs, one waits, a third is refused without waiting; places come back after
    requests finish, also after one that failed."""
    from audiodiff.serve.engine import ServerBusyError

    release, started = threading.Event(), threading.Semaphore(0)
    real_run = engine._run

    def slow_run(request):
        started.release()
        if not release.wait(timeout=60):
            raise RuntimeError("test did not release the run")
        if request.prompt == "fail":
            raise RuntimeError("boom")
        return real_run(request)

    monkeypatch.setattr(engine, "_run", slow_run)
    request = ClipRequest(prompt="rain", duration=0.25, num_inference_steps=1)
    results: dict[str, object] = {}

    def call(name, prompt):
        try:
            results[name] = engine.generate(ClipRequest(prompt=prompt, duration=0.25, num_inference_steps=1))
        except Exception as error:  # noqa: BLE001 - recorded for the asserts
            results[name] = error

    running = threading.Thread(target=call, args=("running", "fail"))
    running.start()
    assert started.acquire(timeout=30)
    waiting = threading.Thread(target=call, args=("waiting", "rain"))
    waiting.start()
    time.sleep(0.2)  # let it take its place in the queue
    began = time.monotonic()
    with pytest.raises(ServerBusyError, match="retry"):
        engine.generate(request)
    assert time.monotonic() - began < 1.0
    release.set()
    running.join(timeout=60)
    waiting.join(timeout=60)
    assert isinstance(results["running"], RuntimeError) and len(results["waiting"]) == 1
    assert len(engine.generate(request)) == 1  # both places are free again


def test_log_mel_image(engine):
    from audiodiff.serve.images import log_mel_image

    t = np.arange(16000) / 16000
    audio = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    log_mel = engine.log_mel(audio)
    assert log_mel.shape == (64, 100)
    image = log_mel_image(log_mel)
    assert image.shape == (128, 100, 3) and image.dtype == np.uint8
    brightness = image.astype(int).sum(axis=(1, 2))
    band = 2 * (63 - int(log_mel.mean(axis=1).argmax()))  # low frequencies at the bottom
    assert brightness.argmax() in (band, band + 1)
    assert image.min() == 0  # quiet bins, 8 log units below the peak, are black



def test_missing_steps_and_guidance_are_the_model_folders(tiny_pipeline_dir):
    from audiodiff.loading import load_pipeline
    from audiodiff.serve.engine import ClipEngine
    from audiodiff.serve.request import ServeLimits

    pipe = load_pipeline(tiny_pipeline_dir, "cpu", "float32")
    assert ClipEngine(pipe, ServeLimits()).parse({"prompt": "rain"}).num_inference_steps == 25
    pipe.register_to_config(default_num_inference_steps=4, default_guidance_scale=1.0)  # a distilled student's
    engine = ClipEngine(pipe, ServeLimits())
    request = engine.parse({"prompt": "rain"})
    assert (request.num_inference_steps, request.guidance_scale) == (4, 1.0)
    assert engine.parse({"prompt": "rain", "num_inference_steps": 6}).num_inference_steps == 6
    plan = engine.plan_edit({"prompt": "rain", "mode": "edit", "strength": 0.5}, (16000, np.zeros(8000, np.float32)))
    assert (plan.options.num_inference_steps, plan.options.guidance_scale) == (4, 1.0)
