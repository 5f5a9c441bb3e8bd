"""End to end in a real headless browser: Debian's chromium driven by Playwright against ``audiodiff serve``.

Needs ``apt-get install chromium`` and the dev extra (playwright); Playwright's own browser downloads are never
used (``executable_path``).  The screenshot is kept in ``$AUDIODIFF_TEST_ARTIFACTS`` (default:
``test-artifacts/`` in the repository).
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("AUDIODIFF_TEST_ARTIFACTS", REPO / "test-artifacts"))

# Gradio's player has a plain <audio> element and the waveform view's own one; the first with a source.
AUDIO_SOURCE = "() => [...document.querySelectorAll('#clip-0 audio')].map(element => element.src).find(Boolean)"
FETCH_BYTES = """async (src) => {
    const response = await fetch(src);
    return Array.from(new Uint8Array(await response.arrayBuffer()));
}"""


def test_generate_in_the_page(server, page, tmp_path):
    page.goto(server.url, wait_until="networkidle")
    page.locator("#prompt textarea").fill("a dog barking")
    page.locator("#duration input").fill("1.5")
    page.locator("#steps input[type=number]").fill("3")
    page.locator("#steps input[type=number]").press("Enter")
    page.locator("#generate").click()

    page.locator("#clip-0 audio").first.wait_for(state="attached")
    source = page.wait_for_function(AUDIO_SOURCE).json_value()
    data = bytes(page.evaluate(FETCH_BYTES, source))
    samples, sample_rate = sf.read(io.BytesIO(data), dtype="int16")
    assert (sample_rate, samples.shape) == (16000, (24000,))  # 1.5 s at 16 kHz, mono
    assert abs(samples).max() > 0
    assert page.locator("#status textarea").input_value() == "Generated 1 clip(s) of 1.5 s (seed 0)."
    assert page.locator("#mel-0 img").is_visible()
    assert page.locator("#clip-0 a[download]").count() == 1  # the download link
    _save_screenshot(page, tmp_path, "serve_page.png")

    page.locator("#prompt textarea").fill("")
    page.locator("#generate").click()
    page.wait_for_function("() => document.querySelector('#status textarea').value.startsWith('Error')")
    message = page.locator("#status textarea").input_value()
    assert "empty" in message and "Traceback" not in message
    assert not page.locator("#clip-0").is_visible()
    _save_screenshot(page, tmp_path, "serve_page_error.png")


def _save_screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / name, ARTIFACTS / name)
