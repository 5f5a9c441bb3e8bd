"""The one declaration of the sampling options and the edit modes: the CLI, serve and the editing jobs are built
from it, and the one pipeline call seeds clip k of a prompt with seed + k."""

from __future__ import annotations

import argparse
from dataclasses import asdict, field, fields, make_dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from audiodiff import cli
from audiodiff.edit_modes import EDIT_MODES, EditMode, ModeOption
from audiodiff.errors import InvalidArgumentError
from audiodiff.sampling import (OptionSpec, SamplingOptions, Widget, check_sampling, option_fields, options_from_args,
                                run_sampling)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return dict(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


def flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_every_sampling_option_is_a_flag_of_generate_and_of_every_edit_mode():
    commands = subcommands(cli.build_parser())
    generate = flags(commands["generate"])
    for item, spec in option_fields():
        assert spec.flag in generate and generate[spec.flag].default == item.default, item.name
        for mode in EDIT_MODES:
            assert (spec.flag in flags(commands[mode])) == spec.per_edit, (mode, item.name)
    assert [spec.flag for _, spec in option_fields() if not spec.per_edit] == ["--duration", "--num-waveforms"]


def test_options_from_args_reads_every_flag_back():
    args = cli.build_parser().parse_args(["generate", "rain", "--steps", "7", "--guidance-scale", "2.5", "--seed", "9",
                                          "--negative-prompt", "hiss", "--scheduler", "ddim", "--model", "m",
                                          "--device", "cpu", "--dtype", "bf16", "--duration", "1.5",
                                          "--num-waveforms", "3", "--guidance-rescale", "0.7"])
    assert options_from_args(args) == SamplingOptions(
        duration=1.5, num_inference_steps=7, guidance_scale=2.5, guidance_rescale=0.7, negative_prompt="hiss", seed=9, scheduler="ddim",
        model=Path("m"), device="cpu", dtype="bf16", num_waveforms_per_prompt=3)
    edit = cli.build_parser().parse_args(["inpaint", "in.wav", "rain", "--seed", "4"])
    assert options_from_args(edit) == SamplingOptions(seed=4)  # an edit's duration and clip count are its mode's


def test_serve_requests_have_every_served_option():
    pytest.importorskip("fastapi")
    from audiodiff.serve.request import FIELDS, ClipRequest

    served = [spec.served for _, spec in option_fields() if spec.served is not None]
    assert FIELDS == ("prompt", *served)
    request = ClipRequest(prompt="rain", duration=1.0, seed=5, num_clips=2, scheduler="euler")
    assert request.sampling_options() == SamplingOptions(duration=1.0, num_inference_steps=25, guidance_scale=3.0,
                                                         seed=5, scheduler="euler", num_waveforms_per_prompt=2)


def test_the_edit_mode_table_drives_the_cli(monkeypatch):
    commands = subcommands(cli.build_parser())
    for mode in EDIT_MODES.values():
        own = flags(commands[mode.name])
        for option in mode.options:
            assert own[option.flag].default == option.default and own[option.flag].help == option.help
        assert commands[mode.name].get_default("mode") == mode.name
    extra = EditMode("louder", "make it louder", "Louder.", "louder", (ModeOption("gain", 6.0, "dB (default: 6)"),),
                     lambda values, audio, grid: (1.0, 1.0, None))
    monkeypatch.setattr(cli, "EDIT_MODES", {**EDIT_MODES, "louder": extra})
    args = cli.build_parser().parse_args(["louder", "in.wav", "rain"])
    assert args.gain == 6.0 and args.mode == "louder" and args.run is cli._run_edit


def test_mode_values_fill_defaults_and_regions_follow_the_mode():
    from audiodiff.editing.regions import AudioMask, LatentGrid

    grid = LatentGrid(16000, 160, 4, 64, 0.0, 8000.0)
    audio = torch.zeros(16000).numpy()
    assert EDIT_MODES["edit"].values({}) == {"strength": 0.6}
    assert EDIT_MODES["inpaint"].region(EDIT_MODES["inpaint"].values({"start": 0.25}), audio, grid) == (
        1.0, 1.0, AudioMask(start=0.25))
    assert EDIT_MODES["extend"].region(EDIT_MODES["extend"].values({"seconds": 2.0}), audio, grid) == (
        3.0, 1.0, AudioMask(start=1.0))
    assert EDIT_MODES["extend"].added_seconds({"seconds": 2.0}) == 2.0
    with pytest.raises(InvalidArgumentError, match="--seconds must be"):
        EDIT_MODES["extend"].region({"seconds": -1.0}, audio, grid)


def test_check_sampling_refuses_bad_values():
    check_sampling(SamplingOptions())
    for bad, words in ((dict(duration=0.0), "duration"), (dict(num_inference_steps=0), "num_inference_steps"),
                       (dict(guidance_scale=-1.0), "guidance_scale"), (dict(guidance_rescale=1.5), "guidance_rescale"),
                       (dict(guidance_rescale=float("nan")), "guidance_rescale"), (dict(seed=-1), "seed"),
                       (dict(seed=2**64 - 1, num_waveforms_per_prompt=2), "seed"), (dict(scheduler="nope"), "nope")):
        with pytest.raises(InvalidArgumentError, match=words):
            check_sampling(replace(SamplingOptions(), **bad))


class RecordingPipe:
    """Stands in for the pipeline: records the call and the first draw of each generator."""

    device = torch.device("cpu")

    def __init__(self, scheduler):
        self.scheduler = scheduler

    def __call__(self, prompts, generator, **kwargs):
        self.prompts, self.kwargs = prompts, kwargs
        self.draws = [torch.rand(1, generator=g).item() for g in generator]
        return "result"


def seeded_draw(seed: int) -> float:
    return torch.rand(1, generator=torch.Generator().manual_seed(seed)).item()


def test_run_sampling_seeds_clip_k_with_seed_plus_k_and_swaps_the_scheduler():
    from audiodiff.schedulers import SCHEDULERS

    base = SCHEDULERS["ddim"][0]()
    pipe = RecordingPipe(base)
    options = SamplingOptions(seed=40, num_inference_steps=3, guidance_scale=2.0, negative_prompt="hiss", duration=1.0,
                              scheduler="euler")
    assert run_sampling(pipe, [("rain", 0), ("rain", 1), ("wind", 0)], options, strength=0.5) == "result"
    assert pipe.prompts == ["rain", "rain", "wind"]
    assert pipe.draws == [seeded_draw(40), seeded_draw(41), seeded_draw(40)]
    assert pipe.kwargs == dict(negative_prompt="hiss", duration=1.0, num_inference_steps=3, guidance_scale=2.0,
                               guidance_rescale=0.0, strength=0.5)
    assert type(pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    run_sampling(pipe, [("rain", 0)], replace(options, scheduler=None), base_scheduler=base)
    assert pipe.scheduler is base  # no scheduler asked for: the model's own, not the last request's


def test_every_sampling_field_is_declared_once():
    assert [f.name for f in fields(SamplingOptions)] == [
        "duration", "num_inference_steps", "guidance_scale", "guidance_rescale", "negative_prompt", "seed", "scheduler", "model", "device",
        "dtype", "num_waveforms_per_prompt"]


def test_a_served_option_needs_a_widget_hint():
    with pytest.raises(ValueError, match="widget"):
        OptionSpec("--rerank", "clips to rank", type=int, served="rerank")
    with pytest.raises(ValueError, match="kind"):
        Widget("knob", "Rerank")


def test_the_page_builds_a_widget_for_every_served_option(monkeypatch):
    pytest.importorskip("gradio")
    from audiodiff.serve import page
    from audiodiff.serve.request import FIELDS, ClipRequest, ServeLimits

    assert sorted(page.INPUT_NAMES) == sorted(FIELDS)
    edit_fields = {*FIELDS, "mode", "strength", "start", "end", "fmin", "fmax", "seconds"} - {"duration", "num_clips"}
    assert sorted(page.EDIT_INPUT_NAMES) == sorted(edit_fields)  # bandwidth-extend's cutoff: measured, not asked
    # A served option added to a copy of the declaration: a widget on both tabs, an API parameter, a value by name.
    spec = OptionSpec("--rerank", "clips to draw and rank", type=int, served="rerank",
                      widget=Widget("slider", "Rerank", minimum=1, maximum=8, step=1))
    extended = make_dataclass("Extended", [("rerank", int, field(default=2, metadata={"option": spec}))],
                              bases=(SamplingOptions,), frozen=True)
    monkeypatch.setattr(page, "option_fields", lambda: option_fields(extended))
    # ...and an edit mode with an option of its own: its widget on the edit tab, between the prompt and the sampler.
    mix = ModeOption("mix", 0.25, "how much", Widget("slider", "Mix ({modes})", minimum=0, maximum=1, step=0.05))
    remix = EditMode("remix", "h", "d", "mix it", (mix,), lambda values, audio, grid: (1.0, values["mix"], None))
    monkeypatch.setattr(page, "EDIT_MODES", {**EDIT_MODES, "remix": remix})
    defaults = asdict(ClipRequest(prompt="", num_inference_steps=25, guidance_scale=3.0)) | {"rerank": 2}
    engine = SimpleNamespace(limits=ServeLimits(max_duration=4.0, max_clips=3), defaults=SimpleNamespace(**defaults))
    blocks = page.build_page(engine)
    widgets = {c["props"].get("elem_id"): c["props"] for c in blocks.get_config_file()["components"]}
    for elem_id in ("rerank", "edit-rerank"):
        assert (widgets[elem_id]["label"], widgets[elem_id]["value"], widgets[elem_id]["maximum"]) == ("Rerank", 2, 8)
    assert (widgets["edit-mix"]["label"], widgets["edit-mix"]["value"]) == ("Mix (remix)", 0.25)
    assert widgets["edit-strength"]["label"] == "Strength (edit, inpaint): 0 keeps the input"
    assert widgets["steps"]["maximum"] == 100 and widgets["duration"]["label"] == "Duration (s, at most 4)"
    api = blocks.get_api_info()["named_endpoints"]
    names = [p["parameter_name"] for p in api["/generate"]["parameters"]]
    assert names == list(page.input_names()) and names[-1] == "rerank"
    edit_names = [p["parameter_name"] for p in api["/edit"]["parameters"]]
    assert edit_names == ["upload", *page.input_names(edit=True)] and edit_names[-1] == "rerank"
    assert edit_names.index("seconds") < edit_names.index("mix") < edit_names.index("num_inference_steps")
    assert all(fn.tracks_progress for fn in blocks.fns.values() if fn.api_name in ("generate", "edit"))
    seen = []
    monkeypatch.setattr(page, "handle", lambda engine, values: (seen.append(values), ("ok", []))[1])
    run = next(fn.fn for fn in blocks.fns.values() if fn.api_name == "generate")
    assert run(**dict.fromkeys(names, 1) | {"scheduler": "model default"})[0] == "ok"
    assert seen == [dict.fromkeys(names, 1) | {"scheduler": "model default"}]
