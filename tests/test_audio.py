"""Audio I/O: load any soundfile-readable file as mono at the model rate; write 16-bit WAVs."""

from __future__ import annotations

import stat

import numpy as np
import pytest
import soundfile as sf

from audiodiff.audio import load_audio, resample, write_wav
from audiodiff.errors import AudioLoadError


def sine(frequency: float, seconds: float, sample_rate: int) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def peak_frequency(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1.0 / sample_rate)[np.argmax(spectrum)])


def test_stereo_is_downmixed(tmp_path):
    left, right = sine(440.0, 0.5, 16000), sine(660.0, 0.5, 16000)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    audio = load_audio(tmp_path / "stereo.wav", 16000)
    assert audio.ndim == 1 and audio.dtype == np.float32
    np.testing.assert_allclose(audio, (left + right) / 2, atol=1e-6)


def test_resamples_44k1_to_16k(tmp_path):
    sf.write(tmp_path / "hi.wav", sine(1000.0, 2.0, 44100), 44100, subtype="FLOAT")
    audio = load_audio(tmp_path / "hi.wav", 16000)
    assert abs(audio.size - 32000) <= 1
    assert peak_frequency(audio, 16000) == pytest.approx(1000.0, abs=2.0)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.02)


def test_same_rate_is_untouched():
    audio = sine(440.0, 0.25, 16000)
    np.testing.assert_array_equal(resample(audio, 16000, 16000), audio)


def test_flac_is_read(tmp_path):
    sf.write(tmp_path / "a.flac", sine(300.0, 0.5, 22050), 22050)
    audio = load_audio(tmp_path / "a.flac", 16000)
    assert abs(audio.size - 8000) <= 1
    assert peak_frequency(audio, 16000) == pytest.approx(300.0, abs=3.0)


def test_missing_file_raises(tmp_path):
    with pytest.raises(AudioLoadError, match="does not exist"):
        load_audio(tmp_path / "nope.wav", 16000)


def test_corrupt_file_raises(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(200)))
    with pytest.raises(AudioLoadError, match="corrupt.wav"):
        load_audio(path, 16000)


def test_text_file_raises(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("not audio at all")
    with pytest.raises(AudioLoadError):
        load_audio(path, 16000)


def test_empty_file_raises(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioLoadError, match="no samples"):
        load_audio(tmp_path / "empty.wav", 16000)
    (tmp_path / "zero_bytes.wav").write_bytes(b"")
    with pytest.raises(AudioLoadError):
        load_audio(tmp_path / "zero_bytes.wav", 16000)


def test_write_wav_is_16_bit_pcm(tmp_path):
    audio = sine(440.0, 0.5, 16000)
    audio[:10] = 1.7  # out of range: must be clipped, not wrapped
    path = write_wav(tmp_path / "sub" / "out.wav", audio, 16000)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 8000, "PCM_16")
    read, rate = sf.read(str(path), dtype="float32")
    assert rate == 16000
    np.testing.assert_allclose(read[10:], audio[10:], atol=1.0 / 32768 + 1e-6)
    assert np.all(read[:10] > 0.99)


def test_write_wav_is_atomic(tmp_path, monkeypatch):
    """A write that fails midway leaves the previous file intact and no partial file behind."""
    from pathlib import Path

    import soundfile

    audio = np.zeros(1600, dtype=np.float32)
    path = write_wav(tmp_path / "out.wav", audio + 0.25, 16000)
    before = path.read_bytes()

    def broken_write(file, *args, **kwargs):
        Path(file).write_bytes(b"RIFF half a header")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(soundfile, "write", broken_write)
    with pytest.raises(OSError, match="No space"):
        write_wav(path, audio, 16000)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_write_wav_gives_the_permissions_of_a_plain_new_file(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = write_wav(tmp_path / "out.wav", np.zeros(160, dtype=np.float32), 16000)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)  # not mkstemp's 0o600
