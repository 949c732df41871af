"""The real `rnntui run` in tmux on every bundled scenario: keys sent, the screen read back."""
from __future__ import annotations

import os
import shlex
import shutil
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnntui.scenario.bundled import bundled

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
RNNTUI = str(Path(sys.executable).parent / "rnntui")


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _wait_for(session: str, text: str, timeout: float = 60.0) -> str:  # polled: only a loaded machine waits long
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _capture(session)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; screen:\n{screen}")


def _start(session: str, command: str, log: Path) -> None:
    """Run *command* in a fresh tmux session, writing its exit status to *log* when it ends."""
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    # COLUMNS/LINES set in the test process would win over the pane's real size: drop them
    # a tmux server started elsewhere has its own environment: hand over the PYTHONPATH of the code under test
    path = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    f"env -u COLUMNS -u LINES {path}{command}; echo \"exit=$?\" > {log}"], check=True)


def _exit_status(log: Path, timeout: float = 30.0) -> str:
    end = time.monotonic() + timeout
    while not log.exists() and time.monotonic() < end:
        time.sleep(0.1)
    return log.read_text().strip() if log.exists() else "still running"


@pytest.mark.parametrize("name", sorted(bundled()))
def test_run_in_tmux(name, tmp_path):
    session = f"rnntui-test-{name}-{os.getpid()}"  # two test runs at once never share a session
    log = tmp_path / "exit.txt"
    _start(session, f"COLORTERM=truecolor {RNNTUI} run {name}", log)
    try:
        screen = _wait_for(session, "Fwd/")  # Fwd/BPTT, or Fwd/Backprop on a feature map
        assert "forward pass" in screen
        assert ("Fwd/Backprop" in screen) == (name in ("cnn-digit", "sobel-edges")), screen
        subprocess.run(["tmux", "send-keys", "-t", session, "Right", "End", "b"], check=True)
        # a recurrent place says BPTT; a feature map has no time, so it says only "backward pass"
        screen = _wait_for(session, "backward pass")
        if name in ("cnn-digit", "sobel-edges"):
            assert "BPTT)" not in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "Left", "]", "d", "n", "?"], check=True)
        _wait_for(session, "closes this help")
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        end = time.monotonic() + 30
        while "closes this help" in _capture(session) and time.monotonic() < end:
            time.sleep(0.1)  # Escape and q sent together would arrive as Alt-q
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        assert _exit_status(log) == "exit=0", _capture(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_run_a_saved_trace_in_tmux(tmp_path):
    import rnntui

    rnntui.run("gru-delayed-recall").save(tmp_path / "saved.npz")
    session = f"rnntui-test-saved-{os.getpid()}"
    log = tmp_path / "exit.txt"
    _start(session, f"{RNNTUI} run {tmp_path / 'saved.npz'}", log)
    try:
        screen = _wait_for(session, "Fwd/BPTT")
        assert "GRU gates on delayed recall" in screen and "r reset gate" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        assert _exit_status(log) == "exit=0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_run_with_compare_in_tmux(tmp_path):
    """`rnntui run A --compare B`, and a bundled pair that opens side by side by itself."""
    for i, command in enumerate([f"{RNNTUI} run lstm-delayed-recall --compare gru-delayed-recall",
                                 f"{RNNTUI} run lstm-vs-gru"]):
        session = f"rnntui-test-compare-{i}-{os.getpid()}"
        log = tmp_path / f"exit{i}.txt"
        _start(session, f"COLORTERM=truecolor {command}", log)
        try:
            screen = _wait_for(session, "A vs B at model.0 lstm l0 fwd, t=0")
            assert "B GRU gates on delayed recall" in screen and "only in A" in screen
            subprocess.run(["tmux", "send-keys", "-t", session, "Right", "b"], check=True)
            _wait_for(session, "A vs B at model.0 lstm l0 fwd, t=1")
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
            assert _exit_status(log) == "exit=0", _capture(session)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_step_through_iterations_in_tmux(tmp_path):
    session = f"rnntui-test-training-{os.getpid()}"
    log = tmp_path / "exit.txt"
    _start(session, f"COLORTERM=truecolor {RNNTUI} run training-exploding-clipped", log)
    try:
        _wait_for(session, "training: iteration 199 of 0..199")
        subprocess.run(["tmux", "send-keys", "-t", session, "{", ">", "."], check=True)
        _wait_for(session, "training: iteration 11 of 0..199")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        assert _exit_status(log) == "exit=0", _capture(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
