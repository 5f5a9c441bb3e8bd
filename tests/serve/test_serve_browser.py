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

import numpy as np
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


def test_extend_in_the_edit_tab(server, page, tmp_path):
    t = np.arange(16000) / 16000
    sf.write(tmp_path / "one_second.wav", 0.4 * np.sin(2 * np.pi * 440 * t), 16000, subtype="PCM_16")
    page.goto(server.url, wait_until="networkidle")
    page.get_by_role("tab", name="Edit audio").click()
    page.locator("#edit-input input[type=file]").set_input_files(str(tmp_path / "one_second.wav"))
    page.locator("#edit-mode").get_by_label("extend", exact=True).check()
    page.locator("#edit-prompt textarea").fill("a dog barking")
    page.locator("#edit-seconds input").fill("0.5")
    page.locator("#edit-steps input[type=number]").fill("3")
    page.locator("#edit-steps input[type=number]").press("Enter")
    page.locator("#edit-run").click()

    page.wait_for_function("() => document.querySelector('#edit-status textarea').value !== ''")
    assert page.locator("#edit-status textarea").input_value() == "extend: 1.5 s (seed 0)."
    source = page.wait_for_function(AUDIO_SOURCE.replace("#clip-0", "#edit-clip")).json_value()
    samples, sample_rate = sf.read(io.BytesIO(bytes(page.evaluate(FETCH_BYTES, source))), dtype="int16")
    assert (sample_rate, samples.shape) == (16000, (24000,))  # the 1 s input and 0.5 s more
    _save_screenshot(page, tmp_path, "serve_page_edit.png")
