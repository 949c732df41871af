"""`rnntui serve`: the server starts, answers HTTP with its page, and stops cleanly on SIGINT/SIGTERM."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

RNNTUI = str(Path(sys.executable).parent / "rnntui")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_http_and_stops(stop):
    port = _free_port()
    proc = subprocess.Popen([RNNTUI, "serve", "bptt", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        page, end = "", time.monotonic() + 30
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/", timeout=2) as r:
                    assert r.status == 200
                    page = r.read().decode()
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"the server ended: {proc.stderr.read()}")
                time.sleep(0.2)
        assert "rnntui: bptt" in page and "<html" in page.lower()
        proc.send_signal(stop)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_refuses_what_cannot_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: []\n")
    result = subprocess.run([RNNTUI, "serve", str(bad), "--port", str(_free_port())], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "bad.yaml" in result.stderr and "Traceback" not in result.stderr
