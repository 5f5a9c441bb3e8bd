"""The install guard: the pinned torch/torchaudio pair, and one line with the fix when it is broken."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from audiodiff import dependencies
from audiodiff.dependencies import COMPILED_PAIR, DependencyError, import_compiled, installed_version, pinned_versions
from audiodiff.errors import AudiodiffError

REPO = Path(__file__).resolve().parent.parent
LOADER_ERROR = ("Could not load this library: /venv/lib/torchaudio/lib/libtorchaudio.so: "
                "undefined symbol: torch_exception_get_what_without_backtrace")


def pyproject_pins() -> dict[str, str]:
    """``{"torch": "2.11.0", ...}``: the exact pins of the compiled pair in pyproject.toml."""
    requirements = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        if name.strip() in COMPILED_PAIR:
            pins[name.strip()] = version.strip()
    return pins


def test_pyproject_pins_one_exact_pair():
    pins = pyproject_pins()
    assert set(pins) == set(COMPILED_PAIR), "torch and torchaudio must both be pinned with == in pyproject.toml"
    for version in pins.values():
        assert version and not any(c in version for c in "*<>=!~,"), f"not an exact version: {version}"


def test_installed_torch_and_torchaudio_are_the_pinned_pair():
    """Fails when the environment holds another torch or torchaudio than pyproject.toml pins."""
    pins = pyproject_pins()
    installed = {name: installed_version(name) for name in COMPILED_PAIR}
    assert installed == pins, f"installed {installed}, pinned {pins}: pip install -e . -c requirements-lock.txt"
    assert pinned_versions() == pins, "audiodiff's installed metadata is stale: pip install -e ."


def test_lock_holds_the_pinned_pair():
    lock = (REPO / "requirements-lock.txt").read_text().splitlines()
    assert any(line.startswith("#") and "compile" in line for line in lock[:5]), "the lock names its command"
    for name, version in pyproject_pins().items():
        assert f"{name}=={version}" in lock, f"requirements-lock.txt does not pin {name}=={version}"


def test_import_compiled_turns_a_loader_error_into_the_fix(monkeypatch):
    def broken(name):
        raise OSError(LOADER_ERROR)

    monkeypatch.setattr(dependencies.importlib, "import_module", broken)
    with pytest.raises(DependencyError) as caught:
        import_compiled("torchaudio")
    message = str(caught.value)
    assert isinstance(caught.value, AudiodiffError) and isinstance(caught.value, ImportError)
    assert "\n" not in message
    assert message.startswith("torchaudio cannot be imported (Could not load this library")
    assert f"found torch {installed_version('torch')}, torchaudio {installed_version('torchaudio')}" in message
    pins = pyproject_pins()
    assert message.endswith(f"Fix: pip install 'torch=={pins['torch']}' 'torchaudio=={pins['torchaudio']}'")


def test_message_without_installed_metadata(monkeypatch):
    monkeypatch.setattr(dependencies, "pinned_versions", lambda: {})
    message = dependencies.broken_install_message("torchaudio", ImportError("No module named 'torchaudio'"))
    assert "No module named 'torchaudio'" in message and message.endswith("Fix: pip install -e . (from the audiodiff source folder)")


def test_import_compiled_returns_the_module():
    import torchaudio

    assert import_compiled("torchaudio") is torchaudio


# ---------------------------------------------------------------------- a real process with a broken torchaudio
@pytest.fixture()
def broken_torchaudio(tmp_path) -> dict[str, str]:
    """An environment whose ``import torchaudio`` fails as a torchaudio built for another torch does."""
    package = tmp_path / "shadow" / "torchaudio"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise OSError({LOADER_ERROR!r})\n")
    from tests.test_cli import cli_env

    env = cli_env()
    env["PYTHONPATH"] = str(tmp_path / "shadow") + ":" + env["PYTHONPATH"]
    return env


def test_cli_with_a_broken_torchaudio_exits_1_with_one_line(broken_torchaudio, tmp_path):
    from tests.test_cli import assert_one_line_error

    out = tmp_path / "dog.wav"
    result = subprocess.run([sys.executable, "-m", "audiodiff.cli", "generate", "dog barking", "-o", str(out)],
                            cwd=tmp_path, env=broken_torchaudio, capture_output=True, text=True, timeout=300)
    pins = pyproject_pins()
    assert_one_line_error(result, "torchaudio cannot be imported", "undefined symbol",
                          f"pip install 'torch=={pins['torch']}' 'torchaudio=={pins['torchaudio']}'")
    assert not out.exists()


def test_python_api_with_a_broken_torchaudio_raises_dependency_error(broken_torchaudio, tmp_path):
    code = "import audiodiff\ntry:\n    audiodiff.AudioDiffusionPipeline\nexcept audiodiff.errors.AudiodiffError as e:\n    print(type(e).__name__, e)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=broken_torchaudio,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("DependencyError torchaudio cannot be imported"), result.stdout
