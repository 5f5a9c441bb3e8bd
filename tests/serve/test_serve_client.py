"""The page's event through Gradio's own API (``gradio_client``) against the real server: the same samples as
``POST /api/generate`` for the same request."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def test_gradio_client_gets_the_api_clip(server, tmp_path):
    import httpx
    from gradio_client import Client  # installed with gradio, which the server fixture requires

    client = Client(server.url, verbose=False, download_files=str(tmp_path))
    outputs = client.predict(prompt="a cat meowing", negative_prompt="", duration=1.0, num_inference_steps=2, seed=4,
                             api_name="/generate")  # by name: the API's parameters are the page's inputs
    status, audio_path, image_path = outputs[:3]
    assert status == "Generated 1 clip(s) of 1 s (seed 4)."
    assert image_path.endswith(".png") and all(output is None for output in outputs[3:])
    body = {"prompt": "a cat meowing", "duration": 1.0, "num_inference_steps": 2, "seed": 4}
    response = httpx.post(f"{server.url}/api/generate", json=body, timeout=300)
    page_samples, rate = sf.read(audio_path, dtype="int16")
    api_samples, _ = sf.read(io.BytesIO(response.content), dtype="int16")
    assert rate == 16000 and page_samples.shape == (16000,)
    np.testing.assert_array_equal(page_samples, api_samples)
