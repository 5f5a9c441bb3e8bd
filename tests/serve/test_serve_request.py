"""Validation of serve requests: server caps first, then what ``audiodiff generate`` accepts."""

from __future__ import annotations

import json

import pytest

from audiodiff.errors import InvalidArgumentError
from audiodiff.serve.request import ClipRequest, ServeLimits, parse_request

LIMITS = ServeLimits(max_duration=20.0, max_clips=3, max_prompt_chars=40, max_steps=30)


def test_defaults_and_number_widgets():
    assert parse_request({"prompt": " rain "}, LIMITS) == ClipRequest(prompt="rain")
    request = parse_request({"prompt": "rain", "negative_prompt": "  ", "duration": 2, "num_inference_steps": 7.0,
                             "seed": 3.0, "num_clips": 2, "scheduler": "", "guidance_scale": 0},
                            LIMITS)
    assert request == ClipRequest(prompt="rain", negative_prompt=None, duration=2.0, num_inference_steps=7,
                                  guidance_scale=0.0, seed=3, num_clips=2, scheduler=None)
    assert isinstance(request.num_inference_steps, int) and isinstance(request.seed, int)
    short = ServeLimits(max_duration=2.0)
    assert parse_request({"prompt": "rain"}, short).duration == 2.0  # the default, 5 s, capped


BAD = {  # name: (fields, words the message must hold)
    "a file path field": ({"prompt": "rain", "output": "/etc/passwd"}, ["'output'", "fields are"]),
    "no prompt": ({"duration": 1}, ["'prompt' is required"]),
    "prompt not text": ({"prompt": 5}, ["prompt must be text"]),
    "blank prompt": ({"prompt": "   "}, ["empty"]),
    "prompt too long": ({"prompt": "x" * 41}, ["41 characters", "at most 40"]),
    "negative too long": ({"prompt": "rain", "negative_prompt": "y" * 41}, ["negative_prompt", "at most 40"]),
    "over the server's duration cap": ({"prompt": "rain", "duration": 25}, ["at most 20 seconds", "25"]),
    "duration as text": ({"prompt": "rain", "duration": "5"}, ["duration must be a finite number"]),
    "zero duration": ({"prompt": "rain", "duration": 0}, ["duration", "0"]),
    "too many clips": ({"prompt": "rain", "num_clips": 4}, ["num_clips", "at most 3"]),
    "zero clips": ({"prompt": "rain", "num_clips": 0}, ["num_waveforms_per_prompt", ">= 1"]),
    "too many steps": ({"prompt": "rain", "num_inference_steps": 31}, ["num_inference_steps", "at most 30"]),
    "fractional steps": ({"prompt": "rain", "num_inference_steps": 2.5}, ["num_inference_steps must be an integer"]),
    "boolean seed": ({"prompt": "rain", "seed": True}, ["seed must be an integer"]),
    "negative seed": ({"prompt": "rain", "seed": -1}, ["seed", "-1"]),
    "NaN guidance": (json.loads('{"prompt": "rain", "guidance_scale": NaN}'), ["guidance_scale", "nan"]),
    "unknown scheduler": ({"prompt": "rain", "scheduler": "nope"}, ["nope", "dpmsolver++"]),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_requests_name_the_field(name):
    values, fragments = BAD[name]
    with pytest.raises(InvalidArgumentError) as error:
        parse_request(values, LIMITS)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


@pytest.mark.parametrize("field, value", [("max_duration", 0), ("max_clips", 0), ("max_steps", 1.5),
                                          ("queue_size", -1), ("max_body_bytes", True)])
def test_limits_are_checked(field, value):
    with pytest.raises(InvalidArgumentError, match=field):
        ServeLimits(**{field: value})
