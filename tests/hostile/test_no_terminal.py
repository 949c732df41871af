"""No terminal: `rnntui run` and `rnntui.debug` where standard input or standard error is not a terminal
(a pipe, /dev/null, a notebook's kernel) say so at once, instead of waiting for keys that cannot come."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.hostile.common import CONTROL


@pytest.mark.parametrize("pipe", [False, True], ids=["devnull", "pipe"])
def test_run_without_a_terminal_is_refused_at_once(pipe):
    proc = subprocess.run([sys.executable, "-m", "rnntui", "run", "bptt"], capture_output=True, text=True, timeout=60,
                          **({"input": ""} if pipe else {"stdin": subprocess.DEVNULL}))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnntui: terminal error: the debugger needs a terminal")
    assert "standard input" in lines[0] and "rnntui show" in lines[0]
    assert proc.stdout == "" and not CONTROL.search(proc.stderr)  # not one escape sequence was drawn


def test_debug_without_a_terminal_raises_the_error_at_once():
    code = textwrap.dedent("""
        import torch, rnntui
        from rnntui.tui.terminal import NoTerminal
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = torch.nn.RNN(2, 3, batch_first=True)
            def forward(self, x):
                return self.rnn(x)[0]
        try:
            rnntui.debug(M().double(), torch.zeros(1, 4, 2, dtype=torch.float64))
        except NoTerminal as exc:
            print("refused:", exc)
            assert isinstance(exc, rnntui.RnntuiError) and exc.exit_code == 2
    """)
    proc = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused: the debugger needs a terminal") and "rnntui.from_torch" in proc.stdout


def test_textual_serve_sessions_have_their_own_terminal(monkeypatch):
    from rnntui.tui.terminal import terminal_problem

    monkeypatch.setattr(sys, "__stdin__", None)
    assert terminal_problem() is not None
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert terminal_problem() is None
