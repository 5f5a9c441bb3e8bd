"""Guard for audiodiff's compiled dependencies: a broken torch/torchaudio pair becomes one line with the fix.

torch and torchaudio ship C++ libraries built against each other; a torchaudio built for another torch
fails inside its loader (``libtorchaudio.so: undefined symbol ...``) with a message that names neither
version.  :func:`import_compiled` imports such a module and, when that fails, raises
:class:`DependencyError` saying which versions are installed, which pair audiodiff is pinned to (read
from its installed metadata, i.e. pyproject.toml) and the one ``pip install`` line that repairs it.
"""

from __future__ import annotations

import importlib
import re
from importlib import metadata
from types import ModuleType

from .errors import AudiodiffError

#: The compiled packages whose versions must match each other; pinned together in pyproject.toml.
COMPILED_PAIR = ("torch", "torchaudio")


class DependencyError(AudiodiffError, ImportError):
    """A compiled dependency cannot be imported (missing, or built for another torch); the message has the fix."""


def installed_version(package: str) -> str | None:
    """The installed distribution version of ``package`` (e.g. ``"2.11.0"``, local tag dropped), or None."""
    try:
        return metadata.version(package).split("+", 1)[0]
    except metadata.PackageNotFoundError:
        return None


def pinned_versions(distribution: str = "audiodiff") -> dict[str, str]:
    """The exact ``==`` pins of :data:`COMPILED_PAIR` in ``distribution``'s requirements.

    Returns:
        ``{"torch": "2.11.0", "torchaudio": "2.11.0"}``; empty when audiodiff is not installed
        (a source tree on ``sys.path`` without ``pip install -e .``).
    """
    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return {}
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^;,\s]+)\s*", requirement)
        if match and match.group(1).lower() in COMPILED_PAIR:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def broken_install_message(module: str, error: BaseException) -> str:
    """One line: what failed to import, the installed and the pinned versions, and the ``pip install`` fix."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if len(reason) > 160:
        reason = reason[:157] + "..."
    found = ", ".join(f"{name} {installed_version(name) or 'not installed'}" for name in COMPILED_PAIR)
    pins = pinned_versions()
    if pins:
        needed = " and ".join(f"{name}=={version}" for name, version in pins.items())
        fix = "pip install " + " ".join(f"'{name}=={version}'" for name, version in pins.items())
    else:
        needed = "the torch/torchaudio pair pinned in audiodiff's pyproject.toml"
        fix = "pip install -e . (from the audiodiff source folder)"
    return (
        f"{module} cannot be imported ({reason}); found {found}, but audiodiff needs {needed} "
        f"(a matched pair built for each other). Fix: {fix}"
    )


def import_compiled(module: str) -> ModuleType:
    """Import ``module`` (``"torchaudio"``, ``"torch"``) or raise :class:`DependencyError` with the fix.

    Raises:
        DependencyError: the import failed with ImportError or OSError (a missing package, or a
            shared library built for another torch: ``undefined symbol``, ``Could not load this library``).
    """
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as error:
        raise DependencyError(broken_install_message(module, error)) from error


def check_compiled_dependencies() -> None:
    """Import every package of :data:`COMPILED_PAIR`; the CLI calls this before any command that runs a model.

    Raises:
        DependencyError: as :func:`import_compiled`.
    """
    for module in COMPILED_PAIR:
        import_compiled(module)
