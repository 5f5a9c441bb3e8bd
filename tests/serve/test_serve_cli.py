"""``audiodiff serve`` on the command line: help, the loopback default and its warning, and that no other
command imports Gradio."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_help(capsys):
    from audiodiff.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--host", "--port", "--queue-size", "--max-duration", "--max-clips", "127.0.0.1",
                   "authentication"):
        assert option in text, option


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True),
                                            ("::1", True), ("0.0.0.0", False), ("192.168.1.4", False),
                                            ("example.org", False), ("::", False)])
def test_is_loopback(host, loopback):
    from audiodiff.serve.server import is_loopback

    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host, warns", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_warns_without_authentication_off_loopback(engine, monkeypatch, caplog, host, warns):
    from audiodiff.serve import server

    calls = []

    class RecordingServer:  # uvicorn.Server that records where it would listen and returns at once
        def __init__(self, config):
            self.config, self.should_exit = config, False

        def run(self):
            calls.append((self.config.host, self.config.port))

    monkeypatch.setattr(server, "build_engine", lambda options, call=None: engine)
    monkeypatch.setattr(server.uvicorn, "Server", RecordingServer)
    with caplog.at_level(logging.WARNING, logger="audiodiff.serve.server"):
        server.serve(server.ServeOptions(host=host, port=8123))
    assert calls == [(host, 8123)]
    assert ("no authentication" in caplog.text) is warns


def test_other_commands_do_not_import_gradio():
    code = ("import sys; from audiodiff.cli import build_parser; build_parser().parse_args(['generate', 'x']); "
            "import audiodiff.generate; "
            "assert 'gradio' not in sys.modules and 'fastapi' not in sys.modules, 'imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
