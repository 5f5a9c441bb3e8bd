"""Few-step distillation (audiodiff train distill): the student learns the teacher's guided ODE, resumes exactly,
and exports a folder that samples with LCMScheduler and its own stored defaults."""

from __future__ import annotations

import json
import logging

import pytest
import torch
import yaml
from diffusers import DDIMScheduler, DDPMScheduler, LCMScheduler
from training_helpers import ToneDataset, tiny_train_config

from audiodiff import AudioDiffusionPipeline
from audiodiff.cli import build_parser, main
from audiodiff.errors import InvalidArgumentError
from audiodiff.prompts import expand_requests
from audiodiff.training.config import DistillTrainConfig
from audiodiff.training.diffusion import DiffusionStage
from audiodiff.training.diffusion_math import predicted_start_and_noise, q_sample, training_target
from audiodiff.training.distill import DistillStage, student_scheduler
from audiodiff.training.distill_math import (
    boundary_scalings,
    phase_edges,
    phase_starts,
    phased_consistency_output,
    solver_timesteps,
)
from audiodiff.training.loop import run_training

DURATION = 0.32  # seconds: the tone clips' length
PROMPTS = ("a tone at 440 hertz",)
SEEDS = (0, 1, 2)
TEACHER_GUIDANCE = 3.0


def distill_config(**overrides):
    """Test-sized distillation: 10 solver timesteps (skip 100), a fast-moving target (mu 0.5), L2."""
    settings = dict(distill=DistillTrainConfig(num_ddim_timesteps=10, ema_decay=0.5, loss="l2", sample_prompts=()))
    settings.update(overrides)
    return tiny_train_config(**settings)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory, tiny_pipeline_dir):
    """The tiny pipeline trained as a diffusion model on the tone clips (200 steps), so its guided ODE maps noise
    to latents near the clips' (an untrained U-Net's ODE ends far from anything)."""
    output_dir = tmp_path_factory.mktemp("teacher")
    pipeline = AudioDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    config = tiny_train_config(max_steps=200, batch_size=4)
    run_training(lambda acc: DiffusionStage(config, acc, pipeline, use_ema=False), ToneDataset(4), config, output_dir)
    return output_dir / "model"


def _distill(teacher_dir, output_dir, steps, resume=False, **overrides):
    pipeline = AudioDiffusionPipeline.from_pretrained(teacher_dir)
    config = distill_config(max_steps=steps, **overrides)
    stages = []

    def factory(accelerator):
        stages.append(DistillStage(config, accelerator, pipeline))
        return stages[0]

    run_training(factory, ToneDataset(4), config, output_dir, resume=resume)
    return stages[0]


@torch.no_grad()
def _sample_latents(pipe, prompt, num_inference_steps, guidance_scale, seed):
    """The pipeline's own denoising loop, stopped before the VAE: latents ``(1, C, h, w)``."""
    pipe.set_progress_bar_config(disable=True)
    noise = torch.randn(pipe.latent_shape(DURATION), generator=torch.Generator().manual_seed(100 + seed))
    requests = expand_requests([prompt], None, 1, torch.Generator().manual_seed(seed), noise[None],
                               pipe.latent_shape(DURATION))
    with pipe.progress_bar(total=num_inference_steps) as progress:
        return pipe._denoise(requests, DURATION, num_inference_steps, guidance_scale, progress)


def _distance(references, pipe, steps, guidance_scale):
    """RMS distance of ``pipe``'s ``steps``-step latents from ``references`` (prompt, seed) -> latents."""
    squared = [(_sample_latents(pipe, prompt, steps, guidance_scale, seed) - reference).pow(2).mean()
               for (prompt, seed), reference in references.items()]
    return float(torch.stack(squared).mean().sqrt())


def test_two_student_steps_land_closer_to_the_teachers_25_than_two_teacher_steps(teacher_dir, tmp_path):
    teacher = AudioDiffusionPipeline.from_pretrained(teacher_dir)
    references = {(prompt, seed): _sample_latents(teacher, prompt, 25, TEACHER_GUIDANCE, seed)
                  for prompt in PROMPTS for seed in SEEDS}
    teacher_two = _distance(references, teacher, 2, TEACHER_GUIDANCE)
    untrained = AudioDiffusionPipeline.from_pretrained(teacher_dir)  # the student at step 0
    untrained.scheduler = student_scheduler(untrained, 10, 10.0)
    undistilled = _distance(references, untrained, 2, 1.0)
    print(f"undistilled student {undistilled:.3f}")
    assert undistilled > 1.2 * teacher_two  # so the test can fail
    _distill(teacher_dir, tmp_path, 100, learning_rate=3e-3)
    student = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    distilled = _distance(references, student, 2, 1.0)
    print(f"2-step RMS distance to the teacher's 25 steps: teacher {teacher_two:.3f}, student {distilled:.3f}")
    assert distilled < 0.8 * teacher_two


def test_a_phased_student_takes_two_deterministic_steps_closer_to_the_teachers_25_than_two_teacher_steps(
        teacher_dir, tmp_path):
    teacher = AudioDiffusionPipeline.from_pretrained(teacher_dir)
    references = {(prompt, seed): _sample_latents(teacher, prompt, 25, TEACHER_GUIDANCE, seed)
                  for prompt in PROMPTS for seed in SEEDS}
    teacher_two = _distance(references, teacher, 2, TEACHER_GUIDANCE)
    untrained = AudioDiffusionPipeline.from_pretrained(teacher_dir)
    untrained.scheduler = student_scheduler(untrained, 10, 10.0, num_phases=2)
    undistilled = _distance(references, untrained, 2, 1.0)
    assert undistilled > teacher_two  # the undistilled student fails the bound below
    phased = DistillTrainConfig(num_ddim_timesteps=10, ema_decay=0.5, loss="l2", sample_prompts=(), num_phases=2,
                                num_inference_steps=2)
    _distill(teacher_dir, tmp_path, 100, learning_rate=3e-3, distill=phased)
    student = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    assert isinstance(student.scheduler, DDIMScheduler)
    distilled = _distance(references, student, 2, 1.0)
    print(f"phased: undistilled {undistilled:.3f}, teacher 2 steps {teacher_two:.3f}, student {distilled:.3f}")
    assert distilled < 0.8 * teacher_two


def test_resume_after_interruption_reaches_the_same_student_and_target(tiny_pipeline_dir, tmp_path):
    straight = _distill(tiny_pipeline_dir, tmp_path / "straight", 6, checkpoint_every=2)
    _distill(tiny_pipeline_dir, tmp_path / "interrupted", 4, checkpoint_every=2)  # "killed" after step 4
    resumed = _distill(tiny_pipeline_dir, tmp_path / "interrupted", 6, resume=True, checkpoint_every=2)
    for ours, theirs in ((resumed.unet, straight.unet), (resumed.target, straight.target)):
        expected = theirs.state_dict()
        for name, value in ours.state_dict().items():
            assert torch.allclose(value, expected[name], atol=1e-6), name
    assert not torch.equal(straight.target.conv_in.weight, straight.teacher.conv_in.weight)  # it did train


def test_export_samples_with_lcm_and_its_stored_few_step_defaults(tiny_pipeline_dir, tmp_path):
    _distill(tiny_pipeline_dir, tmp_path, 2)
    index = json.loads((tmp_path / "model" / "model_index.json").read_text())
    assert index["scheduler"] == ["diffusers", "LCMScheduler"]
    assert (index["default_num_inference_steps"], index["default_guidance_scale"], index["num_phases"]) == (4, 1.0, None)
    pipe = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    pipe.set_progress_bar_config(disable=True)
    assert isinstance(pipe.scheduler, LCMScheduler) and pipe.scheduler.config.original_inference_steps == 10
    calls = []
    original = pipe.unet.forward
    pipe.unet.forward = lambda sample, *a, **k: calls.append(sample.shape[0]) or original(sample, *a, **k)
    first = pipe("a tone at 440 hertz", duration=DURATION, generator=torch.Generator().manual_seed(3)).audios
    assert calls == [1, 1, 1, 1]  # 4 steps, one unguided pass each
    again = pipe("a tone at 440 hertz", duration=DURATION, generator=torch.Generator().manual_seed(3)).audios
    other = pipe("a tone at 440 hertz", duration=DURATION, generator=torch.Generator().manual_seed(4)).audios
    assert first.shape == (1, round(DURATION * 16000))
    assert (first == again).all() and not (first == other).all()  # the noise LCM injects between steps is seeded
    calls.clear()
    edited = pipe("a tone at 880 hertz", audio=first[0], strength=0.5,
                  generator=torch.Generator().manual_seed(3)).audios
    assert calls == [1, 1] and edited.shape == first.shape  # SDEdit runs the last half of the 4 LCM steps
    with pytest.raises(InvalidArgumentError, match="at most 10 for this few-step model"):
        pipe("a tone", duration=DURATION, num_inference_steps=11)


def test_a_phased_export_samples_its_phase_edges_deterministically(tiny_pipeline_dir, tmp_path, caplog):
    phased = DistillTrainConfig(num_ddim_timesteps=10, ema_decay=0.5, loss="l2", sample_prompts=(), num_phases=2,
                                num_inference_steps=2)
    _distill(tiny_pipeline_dir, tmp_path, 2, distill=phased)
    index = json.loads((tmp_path / "model" / "model_index.json").read_text())
    assert index["scheduler"] == ["diffusers", "DDIMScheduler"]
    assert (index["default_num_inference_steps"], index["default_guidance_scale"], index["num_phases"]) == (2, 1.0, 2)
    pipe = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    pipe.set_progress_bar_config(disable=True)
    timesteps = []
    original = pipe.unet.forward
    pipe.unet.forward = lambda sample, t, *a, **k: timesteps.append(int(t.flatten()[0])) or original(sample, t, *a, **k)
    first = pipe("a tone at 440 hertz", duration=DURATION, generator=torch.Generator().manual_seed(3)).audios
    assert timesteps == [999, 499]  # one unguided pass at each phase's end
    again = pipe("a tone at 440 hertz", duration=DURATION, generator=torch.Generator().manual_seed(3)).audios
    assert (first == again).all() and first.shape == (1, round(DURATION * 16000))
    assert "phased" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="audiodiff.pipeline"):
        pipe("a tone", duration=DURATION, num_inference_steps=3)
    assert "distilled for 2 steps" in caplog.text and "num_inference_steps=3" in caplog.text


def test_phase_edges_starts_and_boundary_condition():
    edges = phase_edges(1000, 4)
    assert edges.tolist() == [0, 249, 499, 749]
    ddim = DDIMScheduler(timestep_spacing="trailing")
    ddim.set_timesteps(4)
    assert ddim.timesteps.tolist() == [999, *edges[1:].flip(0).tolist()]  # sampling lands on the phase edges
    timesteps = torch.tensor([24, 249, 250, 274, 749, 774, 999])
    assert phase_starts(timesteps, edges).tolist() == [0, 0, 249, 249, 499, 749, 749]
    assert set(phase_starts(solver_timesteps(1000, 40), edges).tolist()) == set(edges.tolist())
    with pytest.raises(ValueError, match="equal phases"):
        phase_edges(1000, 3)
    # with the true start and noise, the jump lands where the forward process puts z0 at the phase start
    alphas_cumprod = DDPMScheduler(beta_schedule="scaled_linear").alphas_cumprod
    z0, noise = torch.randn(3, 4, 6, 8), torch.randn(3, 4, 6, 8)
    timesteps, starts = torch.tensor([274, 999, 249]), torch.tensor([249, 749, 249])
    z_t = q_sample(alphas_cumprod, z0, noise, timesteps)
    jumped = phased_consistency_output(alphas_cumprod, z_t, z0, noise, timesteps, starts)
    assert torch.allclose(jumped[:2], q_sample(alphas_cumprod, z0, noise, starts)[:2], atol=1e-5)
    wrong = phased_consistency_output(alphas_cumprod, z_t, z0 + 1, noise, timesteps, starts)
    assert torch.equal(wrong[2], z_t[2]) and not torch.allclose(wrong[0], jumped[0])  # at t = s: z_t itself


def test_old_folders_keep_25_guided_steps(tiny_pipeline):
    calls = []
    original = tiny_pipeline.unet.forward
    tiny_pipeline.unet.forward = lambda sample, *a, **k: calls.append(sample.shape[0]) or original(sample, *a, **k)
    tiny_pipeline("a tone", duration=DURATION)
    assert calls == [2] * 25  # default_num_inference_steps 25, guidance 3 (conditional and unconditional rows)


def test_boundary_condition_and_solver_schedule_match_lcm_scheduler():
    scheduler = LCMScheduler(original_inference_steps=50)
    timesteps = torch.tensor([0, 19, 999])
    c_skip, c_out = boundary_scalings(timesteps, 10.0)
    for i, t in enumerate(timesteps.tolist()):
        expected = scheduler.get_scalings_for_boundary_condition_discrete(torch.tensor(float(t)))
        assert torch.allclose(c_skip[i].flatten(), expected[0].float())
        assert torch.allclose(c_out[i].flatten(), expected[1].float())
    assert (c_skip[0].item(), c_out[0].item()) == (1.0, 0.0)
    scheduler.set_timesteps(50)
    assert solver_timesteps(1000, 50).flip(0).tolist() == scheduler.timesteps.tolist()


@pytest.mark.parametrize("settings", [{"loss": "l1"}, {"ema_decay": 1.0}, {"guidance_scale": float("nan")},
                                      {"num_inference_steps": 60}, {"huber_c": 0.0}, {"num_phases": 0},
                                      {"num_phases": 3}, {"num_phases": 2, "num_inference_steps": 4}])
def test_bad_distill_settings_are_refused_when_the_config_is_read(settings):
    with pytest.raises(ValueError, match="distill."):
        DistillTrainConfig(**settings)


def test_a_phased_student_needs_a_solver_schedule_that_divides_the_training_timesteps(tiny_pipeline, tmp_path):
    config = distill_config(max_steps=1, distill=DistillTrainConfig(num_ddim_timesteps=30, num_phases=2,
                                                                    num_inference_steps=2, sample_prompts=()))
    with pytest.raises(InvalidArgumentError, match="divide the teacher's 1000 training timesteps"):
        run_training(lambda acc: DistillStage(config, acc, tiny_pipeline), ToneDataset(4), config, tmp_path)


def test_start_and_noise_invert_the_forward_process_for_eps_and_v():
    alphas_cumprod = DDPMScheduler(beta_schedule="scaled_linear").alphas_cumprod
    z0, noise = torch.randn(3, 4, 6, 8), torch.randn(3, 4, 6, 8)
    timesteps = torch.tensor([0, 500, 999])
    z_t = q_sample(alphas_cumprod, z0, noise, timesteps)
    for prediction_type in ("epsilon", "v_prediction"):
        output = training_target(alphas_cumprod, z0, noise, timesteps, prediction_type)
        start, predicted_noise = predicted_start_and_noise(alphas_cumprod, output, z_t, timesteps, prediction_type)
        assert torch.allclose(start, z0, atol=1e-3) and torch.allclose(predicted_noise, noise, atol=1e-3)


def test_a_v_prediction_teacher_gives_a_v_prediction_student(tiny_pipeline, tmp_path):
    tiny_pipeline.scheduler.register_to_config(prediction_type="v_prediction")
    config = distill_config(max_steps=2)
    stage = []
    run_training(lambda acc: stage.append(DistillStage(config, acc, tiny_pipeline)) or stage[0], ToneDataset(4),
                 config, tmp_path)
    assert stage[0].prediction_type == "v_prediction"
    exported = AudioDiffusionPipeline.from_pretrained(tmp_path / "model")
    assert exported.scheduler.config.prediction_type == "v_prediction"


def test_cli_help_and_distill_run_from_the_command_line(tmp_path, tiny_pipeline_dir, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "distill" in text and "few-step student" in text
    from tests.conftest import make_audiofolder

    data = make_audiofolder(tmp_path / "data", [(f"a tone at {f} hertz", f, 0.5) for f in (220, 440, 660)])
    config = tmp_path / "distill.yaml"
    config.write_text(yaml.safe_dump({"max_steps": 2, "batch_size": 2, "segment_seconds": 0.5, "eval_every": 2,
                                      "validation_fraction": 0.34, "distill": {"num_ddim_timesteps": 10,
                                                                              "sample_prompts": []}}))
    assert main(["train", "distill", "--model", str(tiny_pipeline_dir), "--data", str(data), "--config", str(config),
                 "--output-dir", str(tmp_path / "run")]) == 0
    assert "LCMScheduler" in (tmp_path / "run" / "model" / "model_index.json").read_text()
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["consistency_loss"] > 0
    assert main(["train", "distill", "--data", str(data), "--output-dir", str(tmp_path / "x")]) == 1
    assert "--model TEACHER_DIR" in capsys.readouterr().err
