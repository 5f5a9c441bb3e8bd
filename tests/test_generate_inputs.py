"""``audiodiff generate`` checks every argument before any model work, warns about truncated prompts, and
``--skip-existing`` resumes a killed batch job to the same audio as an uninterrupted run."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiodiff import generate
from audiodiff.errors import InvalidArgumentError
from audiodiff.generate import GenerateJob, read_prompts_file, run_generate


@pytest.fixture()
def no_model_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(generate, "load_pipeline", refuse)


BAD_JOBS = {  # name: (GenerateJob overrides, words the message must hold)
    "nan duration": ({"duration": math.nan}, ["duration", "nan"]),
    "infinite duration": ({"duration": math.inf}, ["duration", "inf"]),
    "duration over the long-clip limit": ({"duration": 300.5}, ["duration", "(0, 300]"]),
    "infinite guidance": ({"guidance_scale": -math.inf}, ["guidance_scale", "-inf"]),
    "negative seed": ({"seed": -1}, ["seed", "-1"]),
    "seed past 2**64": ({"seed": 2**64}, ["seed", str(2**64)]),
    "seed + clip index past 2**64": ({"seed": 2**64 - 2, "num_waveforms_per_prompt": 3}, ["seed", "seed + k"]),
    "float steps": ({"num_inference_steps": 2.5}, ["num_inference_steps"]),
    "zero clips per prompt": ({"num_waveforms_per_prompt": 0}, ["num_waveforms_per_prompt"]),
    "zero batch size": ({"batch_size": 0}, ["batch_size"]),
    "blank prompt": ({"prompts": ["rain", "   "]}, ["Prompt 2 is empty"]),
}


@pytest.mark.parametrize("name", list(BAD_JOBS))
def test_bad_arguments_fail_before_any_model_work(tiny_pipeline_dir, tmp_path, no_model_work, name):
    overrides, fragments = BAD_JOBS[name]
    job = GenerateJob(**{"prompts": ["rain"], "output": tmp_path / "out", "model": tiny_pipeline_dir, **overrides})
    with pytest.raises(InvalidArgumentError) as error:
        run_generate(job)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_prompts_file_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_bytes("rain\nwind\ncaf\xe9 chatter\n".encode("latin-1"))
    with pytest.raises(InvalidArgumentError, match=r"line 3 is not UTF-8 \(byte 0xe9\)"):
        read_prompts_file(path)


def test_prompts_file_blank_line_names_the_line_and_bom_and_trailing_blanks_are_fine(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("rain\n\t \nwind\n")
    with pytest.raises(InvalidArgumentError, match="line 2 is blank"):
        read_prompts_file(path)
    path.write_bytes("\ufeffrain on a roof\n  café  \n\n\n".encode("utf-8"))
    assert read_prompts_file(path) == ["rain on a roof", "café"]


def test_a_prompt_longer_than_the_encoder_limit_is_truncated_with_a_warning_naming_it(tiny_pipeline, caplog):
    limit = tiny_pipeline.text_token_limit()
    long_prompt = " ".join(["thunder"] * (limit + 10))
    with caplog.at_level(logging.WARNING, logger="audiodiff.pipeline"):
        tiny_pipeline(["rain", long_prompt], duration=0.2, num_inference_steps=1)
    warnings = [r.getMessage() for r in caplog.records if "longer than the text encoder's limit" in r.getMessage()]
    assert len(warnings) == 1 and repr(long_prompt) in warnings[0] and f"limit of {limit}" in warnings[0]


def _wavs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: sf.read(str(p), dtype="int16")[0] for p in sorted(folder.glob("*.wav"))}


def test_skip_existing_resumes_a_killed_batch_job_to_the_same_audio(tiny_pipeline_dir, tmp_path, monkeypatch):
    def job(output: Path, skip: bool) -> GenerateJob:
        return GenerateJob(prompts=["rain", "a dog barking", "wind"], output=output, duration=0.3,
                           num_inference_steps=2, num_waveforms_per_prompt=2, seed=7, model=tiny_pipeline_dir,
                           batch_size=2, skip_existing=skip, dtype="float32")

    run_generate(job(tmp_path / "straight", skip=False))
    straight = _wavs(tmp_path / "straight")
    assert len(straight) == 6

    written = []
    real_write = generate.write_wav

    def killed_after_three(path, audio, sample_rate):
        if len(written) == 3:
            raise KeyboardInterrupt  # the job is killed while writing the 4th clip
        written.append(path)
        return real_write(path, audio, sample_rate)

    monkeypatch.setattr(generate, "write_wav", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        run_generate(job(tmp_path / "resumed", skip=True))
    monkeypatch.setattr(generate, "write_wav", real_write)
    assert len(_wavs(tmp_path / "resumed")) == 3  # the first batch and a half were kept
    kept = {p.name: p.stat().st_mtime_ns for p in written}

    paths = run_generate(job(tmp_path / "resumed", skip=True))
    assert [p.name for p in paths] == sorted(straight) or sorted(p.name for p in paths) == sorted(straight)
    assert {p.name: p.stat().st_mtime_ns for p in written} == kept  # finished clips were not redone
    resumed = _wavs(tmp_path / "resumed")
    assert resumed.keys() == straight.keys()
    for name, audio in straight.items():  # 16-bit WAVs: equal up to one step of rounding
        assert np.abs(resumed[name].astype(int) - audio.astype(int)).max() <= 1, name
    assert not list((tmp_path / "resumed").glob(".*"))  # no temporary files left behind


def test_skip_existing_with_nothing_left_loads_no_model(tiny_pipeline_dir, tmp_path, monkeypatch):
    out = tmp_path / "done.wav"
    out.write_bytes(b"an earlier result")
    monkeypatch.setattr(generate, "load_pipeline", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    assert run_generate(GenerateJob(prompts=["rain"], output=out, model=tiny_pipeline_dir, skip_existing=True)) == [out]
    assert out.read_bytes() == b"an earlier result"
