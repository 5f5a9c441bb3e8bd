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
