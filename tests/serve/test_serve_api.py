"""``POST /api/generate`` and the page's handler on the tiny model, in-process (FastAPI's TestClient)."""

from __future__ import annotations

import io
import threading
import zipfile

import numpy as np
import pytest
import soundfile as sf

from audiodiff.audio import encode_wav
from audiodiff.serve.request import ClipRequest


@pytest.fixture()
def client(engine):
    from fastapi.testclient import TestClient

    from audiodiff.serve.server import build_app

    with TestClient(build_app(engine)) as client:
        yield client


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(data), dtype="int16")


def test_one_clip_is_wav_bytes(client, engine):
    response = client.post("/api/generate", json={"prompt": "dog barking", "duration": 1.25, "num_inference_steps": 2,
                                                  "seed": 3})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav" and response.headers["x-seeds"] == "3"
    samples, rate = read_wav(response.content)
    assert rate == 16000 and samples.shape == (20000,)
    info = sf.info(io.BytesIO(response.content))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    clip = engine.generate(ClipRequest(prompt="dog barking", duration=1.25, num_inference_steps=2, seed=3))[0]
    np.testing.assert_array_equal(samples, read_wav(encode_wav(clip.audio, 16000))[0])  # the engine's audio


def test_several_clips_come_as_a_zip_of_wavs(client):
    response = client.post("/api/generate", json={"prompt": "rain", "duration": 0.5, "num_inference_steps": 2,
                                                  "num_clips": 3, "seed": 10})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert names == ["clip_0_seed_10.wav", "clip_1_seed_11.wav", "clip_2_seed_12.wav"]
        assert all(read_wav(archive.read(name))[0].shape == (8000,) for name in names)


@pytest.mark.parametrize("body, status, fragment", [
    (b'{"prompt": "", "duration": 1}', 400, "empty"),
    (b'{"prompt": "rain", "duration": 5}', 400, "at most 4 seconds"),
    (b'{"prompt": "rain", "num_clips": 4}', 400, "num_clips"),
    (b'{"prompt": "rain", "path": "../../etc/passwd"}', 400, "Unknown field"),
    (b'{"prompt": "rain"', 400, "not JSON"),
    (b'["rain"]', 400, "JSON object"),
    (b'\xff\xfe', 400, "not JSON"),
    (b'{"prompt": "' + b"x" * 20000 + b'"}', 413, "larger than"),
])
def test_bad_requests_are_4xx_with_a_message(client, body, status, fragment):
    response = client.post("/api/generate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert "Traceback" not in response.text


def test_unexpected_failure_is_500_without_details(client, engine, monkeypatch):
    def broken(request):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(engine, "_run", broken)
    response = client.post("/api/generate", json={"prompt": "rain", "duration": 0.25, "num_inference_steps": 1})
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text


def test_full_queue_is_503_with_retry_after(client, engine, monkeypatch):
    release, entered = threading.Event(), threading.Semaphore(0)
    real_run = engine._run

    def held_run(request):
        entered.release()
        release.wait(timeout=60)
        return real_run(request)

    monkeypatch.setattr(engine, "_run", held_run)
    body = {"prompt": "rain", "duration": 0.25, "num_inference_steps": 1}
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(client.post("/api/generate", json=body).status_code))
               for _ in range(2)]  # queue_size 1: one runs, one waits
    threads[0].start()
    assert entered.acquire(timeout=30)
    threads[1].start()
    for _ in range(100):  # until the second request holds its place
        if engine._admitted == 2:
            break
        threading.Event().wait(0.05)
    busy = client.post("/api/generate", json=body)
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "2" and "retry" in busy.json()["error"]
    assert statuses == [200, 200]


def test_limits_endpoint(client):
    body = client.get("/api/limits").json()
    assert body["limits"]["max_duration"] == 4.0 and body["limits"]["max_clips"] == 3
    assert body["defaults"]["num_inference_steps"] == 25 and "ddim" in body["schedulers"]
    assert body["defaults"]["duration"] == 4.0 and "prompt" not in body["defaults"]  # 5 s capped
    assert body["sample_rate"] == 16000


def test_no_request_path_reaches_the_file_system(client):
    for path in ("/gradio_api/file=/etc/passwd", "/gradio_api/file=../../etc/passwd", "/file=/etc/passwd"):
        response = client.get(path)
        assert response.status_code in (403, 404), path
        assert "root:" not in response.text


def page_inputs(**changes):
    """The "Text to audio" widget values by name: a 1 s clip, 2 steps, seed 0, the model's scheduler."""
    values = dict(prompt="rain", negative_prompt="", duration=1.0, num_clips=1, num_inference_steps=2,
                  guidance_scale=3.0, guidance_rescale=0.0, seed=0, scheduler="model default")
    return values | changes


def test_page_handler_gives_the_api_audio(client, engine):
    from audiodiff.serve.page import INPUT_NAMES, _pcm16, handle

    inputs = page_inputs(prompt="a door slams", duration=0.5, seed=5, num_clips=2)
    assert set(inputs) == set(INPUT_NAMES)
    message, clips = handle(engine, inputs)
    assert message == "Generated 2 clip(s) of 0.5 s (seed 5, 6)."
    response = client.post("/api/generate", json={"prompt": "a door slams", "duration": 0.5, "num_inference_steps": 2,
                                                  "seed": 5, "num_clips": 2})
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for clip, name in zip(clips, archive.namelist()):
            np.testing.assert_array_equal(_pcm16(clip), read_wav(archive.read(name))[0])


@pytest.mark.parametrize("inputs, fragment", [
    (page_inputs(prompt=""), "empty"),
    (page_inputs(duration=9.0), "at most 4 seconds"),
    (page_inputs(seed=None), "seed must be an integer"),
    (page_inputs(guidance_rescale=1.5), "guidance_rescale must be a number in [0, 1]"),
])
def test_page_handler_shows_bad_input_as_a_message(engine, inputs, fragment):
    from audiodiff.serve.page import handle

    message, clips = handle(engine, inputs)
    assert message.startswith("Error: ") and fragment in message and clips == []
