"""The CLI freezes the objects its startup imports create (gc.freeze), so later collections skip them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_startup_imports_are_frozen_once(tmp_path):
    code = ("import gc; from audiodiff.cli import main; "
            "first = main(['info', '--model', 'missing-folder']); frozen = gc.get_freeze_count(); "
            "main(['info', '--model', 'missing-folder']); "
            "print(first, frozen, gc.get_freeze_count(), gc.isenabled())")
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    first, frozen, again, enabled = result.stdout.split()
    # torch, diffusers and transformers leave hundreds of thousands of objects; a second command adds none
    assert first == "1" and int(frozen) > 100_000 and again == frozen and enabled == "True"
