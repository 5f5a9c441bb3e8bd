"""The ``audiodiff`` command line, run as a subprocess the way a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def start(*args: str, cwd: Path = REPO, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "audiodiff.cli", *args], cwd=cwd, env=cli_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def audiodiff(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    return finish(start(*args, cwd=cwd, **env))


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("audiodiff: error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]  # nothing follows the message
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tiny"
    result = audiodiff("init-model", "--config", "configs/model/tiny.yaml", str(out))
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    assert (out / "model_index.json").is_file() and (out / "unet").is_dir()
    return out


def test_generate_writes_one_wav(model_dir, tmp_path):
    out = tmp_path / "x.wav"
    result = audiodiff("generate", "dog barking", "--model", str(model_dir), "-o", str(out),
                       "--duration", "1", "--steps", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    info = sf.info(str(out))
    assert (info.frames, info.samplerate, info.channels, info.subtype) == (16000, 16000, 1, "PCM_16")
    audio, _ = sf.read(str(out))
    assert abs(audio).max() > 0


def test_generate_batch_into_a_folder(model_dir, tmp_path):
    result = audiodiff("generate", "dog barking", "cat meowing", "--model", str(model_dir),
                       "-o", str(tmp_path / "many"),
                       "--num-waveforms", "2", "--duration", "0.5", "--steps", "2", "--batch-size", "3",
                       "--scheduler", "ddim", "--negative-prompt", "noise", "--seed", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert len(paths) == 4 and len(set(paths)) == 4
    assert sorted(paths) == sorted((tmp_path / "many").glob("*.wav"))
    assert all(sf.info(str(p)).frames == 8000 for p in paths)
    assert "dog_barking" in paths[0].name and "cat_meowing" in paths[3].name


def test_info(model_dir):
    result = audiodiff("info", "--model", str(model_dir), "--duration", "5")
    assert result.returncode == 0, result.stderr
    for word in ("vae", "unet", "vocoder", "text_encoder", "AutoencoderKL", "UNet2DConditionModel",
                 "HifiGanVocoder", "16000 Hz", "(4, 250, 32)", "parameters",
                 "window length 10 s (clips up to 300 s with --duration",
                 "sampling defaults: 25 steps of DPMSolverMultistepScheduler, guidance scale 3", "--dtype auto here: "):
        assert word in result.stdout, word


def test_bad_input_fails_in_one_line_without_traceback(model_dir, tmp_path):
    """A bad input in a real process (the other bad inputs run in-process below, through the same main())."""
    result = audiodiff("generate", "rain", "--model", str(model_dir), "-o", str(tmp_path / "bad.wav"),
                       "--scheduler", "nope", cwd=tmp_path)
    assert_one_line_error(result, "nope", "dpmsolver++")
    assert not (tmp_path / "bad.wav").exists()


# ---------------------------------------------------------------------- in-process: same entry point, faster
def run_main(capsys, *args: str) -> subprocess.CompletedProcess:
    from audiodiff.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def test_prompts_file(model_dir, tmp_path, capsys):
    (tmp_path / "prompts.txt").write_text("rain on a roof\n  wind  \n\n")
    result = run_main(capsys, "generate", "--prompts-file", str(tmp_path / "prompts.txt"), "--model", str(model_dir),
                      "-o", str(tmp_path / "listed"), "--duration", "0.5", "--steps", "2")
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert len(paths) == 2 and all(sf.info(str(p)).frames == 8000 for p in paths)
    assert "rain_on_a_roof" in paths[0].name and "wind" in paths[1].name
    missing = run_main(capsys, "generate", "--prompts-file", str(tmp_path / "absent.txt"), "--model", str(model_dir))
    assert_one_line_error(missing, "absent.txt")


BAD_INPUTS = {  # name: (prompts, options given after the valid base options, words the message must name)
    "empty prompt": ([""], [], ["prompt"]),
    "no prompt": ([], [], ["No prompt"]),
    "negative duration": (["rain"], ["--duration", "-1"], ["duration", "-1"]),
    "too long": (["rain"], ["--duration", "301"], ["duration", "301"]),
    "zero steps": (["rain"], ["--steps", "0"], ["num_inference_steps", "0"]),
    "unknown scheduler": (["rain"], ["--scheduler", "nope"], ["nope", "dpmsolver++"]),
    "wav for many clips": (["rain"], ["--num-waveforms", "2"], ["folder"]),
    "cuda without a GPU": (["rain"], ["--device", "cuda"], ["cuda", "--device cpu"]),
    "nan guidance": (["rain"], ["--guidance-scale", "nan"], ["guidance_scale", "nan"]),
    "unwritable output": (["rain"], ["-o", "/proc/nope/x.wav"], ["Cannot write", "/proc/nope"]),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_inputs(model_dir, tmp_path, capsys, name):
    if name.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    prompts, options, fragments = BAD_INPUTS[name]
    base = ["--model", str(model_dir), "-o", str(tmp_path / "bad.wav"), "--steps", "1", "--duration", "0.5"]
    result = run_main(capsys, "generate", *base, *options, *prompts)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "bad.wav").exists()


def test_output_is_checked_before_any_model_work(model_dir, tmp_path, capsys, monkeypatch):
    from audiodiff import generate

    def no_model_work(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(generate, "load_pipeline", no_model_work)
    (tmp_path / "taken.wav").mkdir()
    for output, fragments in [(tmp_path / "taken.wav", ["is a directory"]), (Path("/proc/nope.wav"), ["Cannot write"])]:
        result = run_main(capsys, "generate", "rain", "--model", str(model_dir), "-o", str(output))
        assert_one_line_error(result, *fragments)


def test_missing_model(tmp_path, capsys):
    result = run_main(capsys, "generate", "rain", "--model", str(tmp_path / "absent"), "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(result, "absent", "init-model")
    result = run_main(capsys, "info", "--model", str(tmp_path / "absent"))
    assert_one_line_error(result, "absent")


def test_no_default_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIODIFF_MODEL", str(tmp_path / "no-model-here"))
    result = run_main(capsys, "generate", "dog barking", "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(result, "No default model is installed", "--model", "init-model")


def test_help(capsys):
    with pytest.raises(SystemExit) as top:
        run_main(capsys, "--help")
    assert top.value.code == 0
    text = capsys.readouterr().out
    for name in ("generate", "info", "init-model"):
        assert name in text
    with pytest.raises(SystemExit) as sub:
        run_main(capsys, "generate", "--help")
    assert sub.value.code == 0
    text = capsys.readouterr().out
    for option in ("--output", "--prompts-file", "--duration", "--steps", "--guidance-scale", "--negative-prompt",
                   "--seed", "--num-waveforms", "--scheduler", "--model", "--device", "--batch-size"):
        assert option in text, option
