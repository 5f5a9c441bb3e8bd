"""Windows for long clips: the plan, the blend shares and the overlap-add of the windows' outputs."""

from __future__ import annotations

import pytest
import torch

from audiodiff.long_form import Windows, blend_windows, overlap_add


@pytest.mark.parametrize(("length", "size", "overlap"), [(10, 4, 1), (23, 8, 2), (100, 16, 4), (5, 8, 2)])
def test_shares_sum_to_one_and_ramp_linearly_over_an_overlap(length, size, overlap):
    windows = Windows.plan(length, size, overlap)
    total = torch.zeros(length * 3)
    for start in windows.starts:
        total[start * 3 : (start + windows.size) * 3] += windows.shares(start, scale=3)
    torch.testing.assert_close(total, torch.ones_like(total))
    if len(windows.starts) > 1:  # the second window fades in linearly over its overlap with the first
        shared = (windows.starts[0] + windows.size - windows.starts[1]) * 3
        ramp = windows.shares(windows.starts[1], scale=3)[:shared]
        torch.testing.assert_close(ramp.diff(), torch.full((shared - 1,), 1.0 / shared))


def test_overlap_add_keeps_what_every_window_agrees_on_and_cuts_the_last_window():
    windows = Windows.plan(10, 4, 1)  # starts 0, 3, 6
    signal = torch.randn(2, 10 * 5)
    calls = []

    def window_output(start: int) -> torch.Tensor:
        calls.append(start)
        return signal[:, start * 5 : min(start + windows.size, 9) * 5]  # the result's end cuts the last window

    out = overlap_add(window_output, windows, dim=1, scale=5, length=9 * 5)
    assert calls == [0, 3, 6] and out.shape == (2, 45)
    torch.testing.assert_close(out, signal[:, :45])


def test_blend_windows_returns_a_single_window_as_it_is():
    x = torch.randn(1, 3, 6)
    out = blend_windows(lambda window: window * 2, x, Windows.plan(6, 8, 2), in_dim=2, out_dim=2)
    assert torch.equal(out, x * 2)
    long = blend_windows(lambda window: window * 2, x, Windows.plan(6, 4, 2), in_dim=2, out_dim=2)
    torch.testing.assert_close(long, x * 2)


def _overlap_power_db(out: torch.Tensor, windows: Windows, scale: int, middle: float = 0.25) -> torch.Tensor:
    """Power (dB, per row) of ``out (batch, samples)`` in the middle ``middle`` of each overlap, against unit power."""
    parts = []
    for before, after in zip(windows.starts, windows.starts[1:]):
        first, end = after * scale, (before + windows.size) * scale
        centre, half = (first + end) // 2, int((end - first) * middle / 2)
        parts.append(out[:, centre - half : centre + half])
    return 10 * torch.cat(parts, dim=1).square().mean(dim=1).log10()


@pytest.mark.parametrize("channels_first", [False, True])
def test_level_frame_keeps_the_level_of_incoherent_windows_over_their_overlaps(channels_first):
    """Independent unit-power noise per window (Griffin-Lim's different phases): a linear crossfade loses ~3 dB in
    the middle of each overlap; the level-kept blend stays within 0.5 dB, and the windows alone are untouched."""
    windows = Windows.plan(40, 16, 6)  # starts 0, 10, 20, 24: the last overlap is 12 of 16 cells
    scale = 64
    generator = torch.Generator().manual_seed(0)
    outputs = {start: torch.randn(3, windows.size * scale, generator=generator) for start in windows.starts}

    def window_output(start: int) -> torch.Tensor:
        out = outputs[start]
        return out.T if channels_first else out

    dim = 0 if channels_first else 1
    plain = overlap_add(window_output, windows, dim=dim, scale=scale)
    kept = overlap_add(window_output, windows, dim=dim, scale=scale, level_frame=32)
    if channels_first:
        plain, kept = plain.T, kept.T
    assert (_overlap_power_db(plain, windows, scale) < -2.0).all()
    assert _overlap_power_db(kept, windows, scale).abs().max() < 0.5
    alone = slice(0, 10 * scale)  # only the first window covers cells 0-9
    torch.testing.assert_close(kept[:, alone], outputs[0][:, alone])


def test_level_frame_leaves_coherent_windows_as_a_linear_crossfade_does():
    windows = Windows.plan(10, 4, 1)
    signal = torch.sin(torch.arange(10 * 50) * 0.05)[None] * torch.linspace(0.2, 1.0, 10 * 50)

    def window_output(start: int) -> torch.Tensor:
        return signal[:, start * 50 : (start + windows.size) * 50]

    for frame in (40, 10_000):  # a frame longer than the clip: one gain for the whole of it
        out = overlap_add(window_output, windows, dim=1, scale=50, level_frame=frame)
        torch.testing.assert_close(out, signal, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="level_frame"):
        overlap_add(window_output, windows, dim=1, scale=50, level_frame=0)
