"""Signals family: SIGHUP, SIGINT, SIGQUIT and SIGTERM end `rnntui` promptly with exit status 128 + n,
whatever it is doing (writing an export, training, replaying an iteration, showing the debugger), and
leave no temporary file behind. Real processes, real signals, bounded waits.

Each child is `rnntui.cli.main` with one function wrapped so that it says when it has begun (and, for
a write, stays inside it): the signal then lands where the test means it to, not during the imports."""
from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ENDING = [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM]
IDS = [s.name for s in ENDING]

LONG_TRAINING = """\
version: 1
name: long training
seed: 7
mode: many-to-one
input: {generate: {kind: delayed-recall, length: 12, features: 1, batch: 4}}
model:
  - {type: rnn, hidden_size: 4}
  - {type: dense, units: 2}
loss: {kind: cross_entropy, target: [1, 0, 1, 0]}
train:
  iterations: 1000000
  optimizer: {kind: sgd, lr: 0.01}
"""


def _child(prelude: str, argv: list[str], **kw) -> subprocess.Popen:
    """`rnntui ARGV` in a new process, after *prelude* (which wraps a function to print a line)."""
    code = textwrap.dedent(prelude) + textwrap.dedent(f"""
        import sys
        from rnntui.cli import main
        sys.argv = ["rnntui"] + {argv!r}
        main()
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def _wait_for(proc: subprocess.Popen, word: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if word in line:
                return
            if not line and proc.poll() is not None:
                break
    proc.kill()
    pytest.fail(f"the child never said {word!r}: {proc.stderr.read()}")


def _ends(proc: subprocess.Popen, sig: int, within: float = 20) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{signal.Signals(sig).name} did not end the process within {within} s")
    err = proc.stderr.read()
    assert "Traceback" not in err, err
    return proc.returncode, err


SLOW_WRITE = """
    import time
    import numpy.lib.format
    _write_array = numpy.lib.format.write_array
    def write_array(member, array, **kw):
        _write_array(member, array, **kw)
        print("writing", flush=True)
        time.sleep(60)
    numpy.lib.format.write_array = write_array
"""


@pytest.mark.parametrize("sig", ENDING, ids=IDS)
def test_a_signal_during_an_export_write_removes_the_temporary_file(tmp_path, sig):
    out = tmp_path / "out.npz"
    proc = _child(SLOW_WRITE, ["export", "rnn-sine", "-o", str(out)])
    _wait_for(proc, "writing")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "the write has its temporary file"
    code, _ = _ends(proc, sig)
    assert code == 128 + sig
    assert list(tmp_path.iterdir()) == []


NORMS_ALONGSIDE = """
    import time
    import numpy.lib.format
    from rnntui.engine import checkpoint, diagnostics, progress
    checkpoint.SEGMENT_MAX = 64     # the chain runs in segments: its norms are computed alongside its backward pass
    def jacobian_norms(*a, **k):    # a minute of norms, reporting progress as the real ones do after each chunk
        for i in range(6000):
            progress.report("norms", i, 6000)
            time.sleep(0.01)
    diagnostics.jacobian_norms = jacobian_norms
    _write_array = numpy.lib.format.write_array
    def write_array(member, array, **kw):
        _write_array(member, array, **kw)
        print("writing", flush=True)
        time.sleep(60)              # the signal lands in the write, while the norms are computed meanwhile
    numpy.lib.format.write_array = write_array
"""

LONG_CHAIN = """\
version: 1
name: long chain
input: {generate: {kind: noise, length: 300, features: 2, batch: 2}}
model:
  - {type: lstm, hidden_size: 8}
loss: {kind: sum}
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_an_export_waits_for_its_jacobian_norms_ends_it_promptly(tmp_path, sig):
    """`export --jacobian` of a chain in segments computes the norms alongside the run (in a child process) and
    writes the rest meanwhile (the save's thread waiting for them); a signal during the write stops them too: the
    process ends within a chunk of norms, not once they are all done, and leaves no process computing them."""
    scenario = tmp_path / "chain.yaml"
    scenario.write_text(LONG_CHAIN)
    out = tmp_path / "out.npz"
    proc = _child(NORMS_ALONGSIDE, ["export", str(scenario), "-o", str(out), "--jacobian"])
    _wait_for(proc, "writing")
    import psutil

    children = psutil.Process(proc.pid).children(recursive=True)   # the process computing the norms
    assert len(children) == 1, children
    code, _ = _ends(proc, sig, within=10)
    assert code == 128 + sig
    assert list(tmp_path.iterdir()) == [scenario]
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


TRAINING_BEGUN = """
    from rnntui.engine import train
    _iterate = train.Trainer.iterate
    def iterate(self, k, *a):
        if k == 3:
            print("training", flush=True)
        return _iterate(self, k, *a)
    train.Trainer.iterate = iterate
"""


@pytest.mark.parametrize("sig", ENDING, ids=IDS)
def test_a_signal_during_a_training_runs_check_ends_it(tmp_path, sig):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG_TRAINING)
    proc = _child(TRAINING_BEGUN, ["check", str(scenario), "--assert", "norm(h) >= 0"])
    _wait_for(proc, "training")
    code, _ = _ends(proc, sig, within=10)
    assert code == 128 + sig


REPLAYING = """
    import time
    from rnntui.engine import train
    _iteration = train.Trainer.iteration
    def iteration(self, k):
        print("replaying", flush=True)
        time.sleep(0.2)   # the signal lands inside the replay
        return _iteration(self, k)
    train.Trainer.iteration = iteration
    _iterate = train.Trainer.iterate
    def iterate(self, k, *a):
        time.sleep(0.002)
        return _iterate(self, k, *a)
    train.Trainer.iterate = iterate
"""


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_a_signal_during_a_training_replay_ends_it(tmp_path, sig):
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(LONG_TRAINING.replace("iterations: 1000000", "iterations: 400"))
    out = tmp_path / "out.npz"
    proc = _child(REPLAYING, ["export", str(scenario), "--iteration", "1", "-o", str(out)])
    _wait_for(proc, "replaying", timeout=120)
    code, _ = _ends(proc, sig, within=10)
    assert code == 128 + sig and list(tmp_path.iterdir()) == [scenario]


def test_a_signal_inherited_as_ignored_stays_ignored():
    """nohup's SIGHUP and a background job's SIGINT/SIGQUIT: the user asked for them to end nothing."""
    code = textwrap.dedent("""
        import signal
        from rnntui import signals
        signals.install()
        print(signal.getsignal(signal.SIGHUP) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is signals._handler)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert out.stdout.split() == ["True", "True"], out.stderr


def _pty_child(argv: list[str]) -> tuple[subprocess.Popen, int]:
    """`rnntui ARGV` with a pseudo-terminal as its terminal (stdin, stdout and stderr)."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100", LINES="30", TERM="xterm-256color")
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.Popen([sys.executable, "-m", "rnntui", *argv], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    return proc, master


def _screen_until(master: int, proc: subprocess.Popen, word: bytes, timeout: float = 90) -> bytes:
    seen, end = b"", time.monotonic() + timeout
    while time.monotonic() < end and word not in seen:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
        elif proc.poll() is not None:
            break
    return seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_closes_the_debugger_and_gives_the_terminal_back(sig):
    proc, master = _pty_child(["run", "bptt"])
    try:
        seen = _screen_until(master, proc, b"step 1 of")
        assert b"step 1 of" in seen, seen[-500:]
        proc.send_signal(sig)
        start = time.monotonic()
        rest = b""
        while proc.poll() is None and time.monotonic() - start < 15:
            rest += _screen_until(master, proc, b"\x1b[?1049l", timeout=0.5)
        assert proc.poll() == 128 + sig, proc.poll()
        rest += _screen_until(master, proc, b"\x1b[?1049l", timeout=1)
        assert b"\x1b[?1049l" in rest  # the alternate screen was left: the terminal is the user's again
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_a_debugger_that_cannot_close_is_ended_after_the_grace(tmp_path):
    """The app is asked to close; when it cannot (busy, or its terminal is gone), the process ends
    anyway a few seconds later, removing the temporary file of a write under way."""
    code = textwrap.dedent(f"""
        import time
        from rnntui import signals
        from rnntui.atomic import atomic_write
        signals.install()
        with signals.closing(lambda signum: True):     # an app that says yes and never closes
            with atomic_write({str(tmp_path / 'out.bin')!r}) as f:
                f.write(b"half")
                print("writing", flush=True)
                while True:
                    time.sleep(0.05)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(proc, "writing")
    start = time.monotonic()
    code, _ = _ends(proc, signal.SIGTERM, within=20)
    from rnntui.signals import GRACE

    assert code == 128 + signal.SIGTERM and time.monotonic() - start >= GRACE * 0.9
    assert list(tmp_path.iterdir()) == []


def test_a_second_signal_ends_at_once(tmp_path):
    code = textwrap.dedent("""
        import time
        from rnntui import signals
        signals.install()
        with signals.closing(lambda signum: True):
            print("open", flush=True)
            while True:
                time.sleep(0.05)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(proc, "open")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    start = time.monotonic()
    code, _ = _ends(proc, signal.SIGHUP, within=10)
    assert code == 128 + signal.SIGHUP and time.monotonic() - start < 2


@pytest.fixture(autouse=True)
def _no_stray(tmp_path):
    yield
    assert not list(Path(tmp_path).glob(".*.tmp"))
