"""Trace.save computes the step-Jacobian norms on a thread of their own while the rest of the .npz is written
(engine/aside.py): the file holds the same numbers as norms computed alone, a write that fails stops the norms
(no thread runs on), and a norm that fails leaves nothing behind."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import rnntui
from rnntui.engine import diagnostics
from rnntui.engine.aside import Aside, aside
from rnntui.engine.progress import report, reporting
from rnntui.errors import ExportError

SCENARIO = """\
name: aside
input: {generate: {kind: noise, length: 40, features: 3, batch: 2}}
model:
  - {type: lstm, hidden_size: 40}
  - {type: gru, hidden_size: 40}
loss: {kind: sum}
"""


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    return path


def _asides() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rnntui-aside"]


@pytest.fixture(params=["process", "thread"])
def where(request, monkeypatch):
    """The norms computed alongside a run in a forked child process (where the platform forks) or on a thread:
    (which, the list every child process made is noted in: empty for a thread)."""
    from rnntui.engine import norms_stream

    if request.param == "thread":
        monkeypatch.setattr(norms_stream, "PROCESS", False)
        return "thread", []
    return "process", request.getfixturevalue("child")


@pytest.fixture
def child(monkeypatch):
    """The norms computed in a forked child process: the list each child made is noted in (`NormsProcess`)."""
    from rnntui.engine import norms_stream

    if not norms_stream.PROCESS:
        pytest.skip("the norms are computed in a child process on Linux only")
    # pytest may still run a thread of an earlier test (a run whose norms nobody read): the fork is tested here, the
    # rule that avoids it beside other threads in its own test
    monkeypatch.setattr(norms_stream, "alone", lambda: True)
    made: list = []
    real = norms_stream.NormsProcess.__init__

    def noted(self, stream):
        real(self, stream)
        made.append(self)

    monkeypatch.setattr(norms_stream.NormsProcess, "__init__", noted)
    return made


def _plain_run(monkeypatch, case: str):
    """A scenario of test_checkpoint's *case*, in three segments, and its run recorded whole without norms alongside."""
    from rnntui.engine import checkpoint
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, scenario

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    sc = scenario(**CASES[case])
    return sc, run_scenario(sc, recording="full")


def _gone(pid: int) -> bool:
    """Whether the child process *pid* has ended and been waited for."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _spy_norms(monkeypatch) -> list[str]:
    """diagnostics.jacobian_norms made to note the thread each call runs on: the list it notes them in."""
    threads: list[str] = []
    real = diagnostics.jacobian_norms

    def seen(*a, **k):
        threads.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(diagnostics, "jacobian_norms", seen)
    return threads


class SlowNorms:
    """diagnostics.jacobian_norms made to report progress for 10 s first (until dropped: the real one reports after
    each chunk) while `slow`: `reached` notes each call, `ran_out` each that was never dropped."""

    def __init__(self, monkeypatch):
        self.slow, self.reached, self.ran_out = True, [], []
        self.real = diagnostics.jacobian_norms
        monkeypatch.setattr(diagnostics, "jacobian_norms", self)

    def __call__(self, *a, **k):
        if self.slow:
            self.reached.append(1)
            for i in range(1000):
                report("norms", i, 1000)
                threading.Event().wait(0.01)
            self.ran_out.append(1)
        return self.real(*a, **k)


def test_saved_norms_equal_norms_computed_alone(scenario, tmp_path):
    out = tmp_path / "t.npz"
    rnntui.run(scenario).save(out, jacobian=True)
    alone = rnntui.run(scenario)
    keys = [k for k in alone if k.endswith(".jacnorm")]
    assert len(keys) == 2
    with np.load(out) as saved:
        for k in keys:
            np.testing.assert_array_equal(saved[k], alone[k])   # the same chunks, the same operations
        # every other key is written too, and the norms after them (they are computed meanwhile)
        assert set(saved.files) == set(alone)
        assert saved.files[-2:] == keys
    assert _asides() == []


def test_a_failed_write_drops_the_norms(scenario, tmp_path, monkeypatch):
    out = tmp_path / "t.npz"
    norms = SlowNorms(monkeypatch)

    def explode(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", explode)
    trace = rnntui.run(scenario)
    with pytest.raises(ExportError, match="disk full"):
        trace.save(out, jacobian=True)
    assert norms.reached and not norms.ran_out and _asides() == []    # dropped, and waited for
    assert list(tmp_path.iterdir()) == [scenario]
    assert any(k.endswith(".jacnorm") for k in trace._derived)   # still to compute when read


def test_a_failed_norm_leaves_nothing(scenario, tmp_path, monkeypatch):
    out = tmp_path / "t.npz"
    out.write_bytes(b"precious")

    def broken(*a, **k):
        raise MemoryError("no room for the norms")

    monkeypatch.setattr(diagnostics, "jacobian_norms", broken)
    with pytest.raises(MemoryError, match="no room"):
        rnntui.run(scenario).save(out, jacobian=True)
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml", "t.npz"]


def test_progress_reaches_the_callers_listener_from_the_thread():
    seen = []
    with reporting(lambda label, done, total: seen.append((label, done, total, threading.current_thread().name))):
        work = Aside(lambda: [report("x", i, 2) for i in (1, 2)])
        work.result()
    assert seen == [("x", 1, 2, "rnntui-aside"), ("x", 2, 2, "rnntui-aside")]


def test_leaving_a_block_by_an_exception_drops_the_work():
    started = threading.Event()

    ran_out = []

    def forever():
        started.set()
        for _ in range(2000):
            report("forever", 0, 1)
            threading.Event().wait(0.005)
        ran_out.append(1)

    with pytest.raises(KeyError):
        with aside(forever):
            started.wait(5)
            raise KeyError("stop")
    assert not ran_out and _asides() == []


# --- computed alongside the backward pass (rnntui.run(..., jacobian=True), `export --jacobian`) -------------

ALONGSIDE_CASES = ["rnn", "lstm", "gru", "lstm-stacked", "rnn-packed-mse", "gru-stacked-initial", "lstm-float32"]


@pytest.mark.parametrize("case", ALONGSIDE_CASES)
def test_norms_computed_alongside_are_the_runs_bit_for_bit(case, where, monkeypatch):
    """A chain recorded whole in segments computes its norms alongside, in a child process or on a thread of their
    own: every key of the run, the norms included, has the bits of a run that derives them when read."""
    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, assert_bit_equal, scenario

    kind, made = where
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    sc = scenario(**CASES[case])
    plain = run_scenario(sc, recording="full")
    threads = _spy_norms(monkeypatch)
    with norms_alongside():
        along = run_scenario(sc, recording="full")
    assert along.recording.segments == 3
    norms = [k for k in plain if k.endswith(".jacnorm")]
    along[norms[0]]                                       # waits for the work
    if kind == "thread":
        assert set(threads) == {"rnntui-aside"} and len(threads) == len(norms) and made == []   # one call a place
    else:
        assert threads == [] and len(made) == 1 and _gone(made[0].pid)   # all in the child, which has ended
    assert_bit_equal(plain, along)
    assert len(threads) == (len(norms) if kind == "thread" else 0)      # read, not computed again
    assert _asides() == []


def test_beside_another_thread_the_norms_are_computed_on_a_thread(monkeypatch):
    """A fork copies the forking thread only: a lock another thread held would stay held in the child. With another
    thread running, the norms are computed on a thread of their own instead, to the same bits."""
    from rnntui.engine import checkpoint, norms_stream
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, assert_bit_equal, scenario

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    forks, real_fork = [], os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
    sc = scenario(**CASES["gru"])
    plain = run_scenario(sc, recording="full")
    other = threading.Event()
    waiting = threading.Thread(target=other.wait, args=(30,))
    waiting.start()
    try:
        assert not norms_stream.alone()
        with norms_alongside():
            along = run_scenario(sc, recording="full")
        along["diag.model.0.l0.fwd.jacnorm"]
    finally:
        other.set()
        waiting.join()
    assert forks == [] and norms_stream.alone() == (threading.active_count() == 1)
    assert_bit_equal(plain, along)


def test_a_child_that_fails_says_why_and_the_run_goes_on(where, monkeypatch):
    """The norms fail in the child (out of memory): reading them raises that error, with its message; the child has
    been waited for."""
    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, scenario

    kind, made = where
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)

    def broken(*a, **k):
        raise MemoryError("no room for the norms")

    monkeypatch.setattr(diagnostics, "jacobian_norms", broken)
    with norms_alongside():
        along = run_scenario(sc := scenario(**CASES["lstm"]), recording="full")
    with pytest.raises(MemoryError, match="no room for the norms"):
        along["diag.model.0.l0.fwd.jacnorm"]
    assert along.recording.segments == 3 and sc is not None
    if kind == "process":
        assert len(made) == 1 and _gone(made[0].pid)


@pytest.mark.parametrize("case", ["lstm", "gru-stacked-initial", "rnn-packed-mse", "lstm-float32"])
def test_norms_start_with_the_first_segment_and_read_only_recorded_steps(case, monkeypatch):
    """(On a thread, where the spies see them: the child's case is the next test.) The norms begin while the forward pass still records (norms_stream): chunks of a few steps each, several
    to a segment and some across two, each computed once its steps are recorded, not before; the first is done
    before the forward pass reaches its last segment. Every key keeps the bits of a run that derives them when
    read, through the same chunks."""
    from rnntui.engine import checkpoint, norms_stream, spectral
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, assert_bit_equal, scenario

    monkeypatch.setattr(norms_stream, "PROCESS", False)
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    monkeypatch.setattr(diagnostics, "STEP_CHUNK_ELEMENTS", 1000)     # chunks of 16 to 38 steps
    sc = scenario(**CASES[case])
    plain = run_scenario(sc, recording="full")
    chunk_done = threading.Event()
    waited_for_it: list[bool] = []
    real_forward, real_wait, real_norms = checkpoint.Segments._forward, norms_stream.StreamedNorms._wait_for, \
        spectral.step_spectral_norms

    def forward(segs, k):
        if k == len(segs.bounds) - 1:     # the last segment waits (up to 10 s) for a chunk of norms
            waited_for_it.append(chunk_done.wait(10))
        return real_forward(segs, k)

    reads = []     # (steps a chunk reads, steps recorded when it read them)

    def wait_for(stream, steps):
        real_wait(stream, steps)
        reads.append((steps, stream._recorded))

    def norms(*a, **k):
        out = real_norms(*a, **k)
        chunk_done.set()
        return out

    monkeypatch.setattr(checkpoint.Segments, "_forward", forward)
    monkeypatch.setattr(norms_stream.StreamedNorms, "_wait_for", wait_for)
    monkeypatch.setattr(spectral, "step_spectral_norms", norms)
    with norms_alongside():
        along = run_scenario(sc, recording="full")
    assert along.recording.segments == 3
    along[next(k for k in along if k.endswith(".jacnorm"))]     # waits for the thread's work
    assert waited_for_it == [True]                               # a chunk was done before the last segment
    assert len(reads) >= 4 and all(steps <= recorded for steps, recorded in reads), reads
    assert any(steps < 150 for steps, recorded in reads)
    assert_bit_equal(plain, along)
    assert _asides() == []


def test_a_child_killed_from_outside_leaves_the_norms_to_this_process(child, monkeypatch):
    """The child ends without a word (the OOM killer's SIGKILL): the norms are computed here instead, to the bits."""
    import signal

    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import assert_bit_equal

    made = child
    sc, plain = _plain_run(monkeypatch, "lstm-stacked")
    parent, real = os.getpid(), diagnostics.jacobian_norms
    calls = []

    def killed_in_the_child(*a, **k):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        calls.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(diagnostics, "jacobian_norms", killed_in_the_child)
    with norms_alongside():
        along = run_scenario(sc, recording="full")
    along["diag.model.0.l0.fwd.jacnorm"]
    assert len(made) == 1 and _gone(made[0].pid)
    assert calls and set(calls) == {"rnntui-aside"}
    assert_bit_equal(plain, along)


def test_a_child_that_goes_silent_is_ended_and_the_norms_computed_here(child, monkeypatch):
    """A child that says nothing for `SILENCE` seconds though it has every step it needs is stuck (a lock its fork
    copied, held): it is killed and the norms are computed in this process, to the bits."""
    import time

    from rnntui.engine import norms_stream
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import assert_bit_equal

    made = child
    sc, plain = _plain_run(monkeypatch, "gru-stacked-initial")
    parent, real = os.getpid(), diagnostics.jacobian_norms

    def stuck_in_the_child(*a, **k):
        if os.getpid() != parent:
            time.sleep(600)
        return real(*a, **k)

    monkeypatch.setattr(diagnostics, "jacobian_norms", stuck_in_the_child)
    monkeypatch.setattr(norms_stream.NormsProcess, "SILENCE", 0.5)
    with norms_alongside():
        along = run_scenario(sc, recording="full")
    begun = time.monotonic()
    along["diag.model.0.l0.fwd.jacnorm"]
    assert time.monotonic() - begun < 30
    assert len(made) == 1 and _gone(made[0].pid)
    assert_bit_equal(plain, along)


def test_a_fork_that_fails_leaves_the_norms_to_a_thread(child, monkeypatch):
    """No fork now (no memory for the copy, the process limit reached): the norms are computed on a thread, to
    the same bits, and the pipes made for the child are closed again."""
    import errno

    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import assert_bit_equal

    made = child
    sc, plain = _plain_run(monkeypatch, "gru")

    def no_fork():
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_fork)
    threads = _spy_norms(monkeypatch)
    descriptors = len(os.listdir("/proc/self/fd"))
    with norms_alongside():
        along = run_scenario(sc, recording="full")
    along["diag.model.0.l0.fwd.jacnorm"]
    assert made == [] and threads == ["rnntui-aside"]
    assert len(os.listdir("/proc/self/fd")) == descriptors
    assert_bit_equal(plain, along)


def test_a_program_that_ignores_sigchld_still_gets_its_norms(where, monkeypatch):
    """A program calling rnntui with SIGCHLD ignored has its children reaped by the kernel: waiting for the child
    finds none, which is its end, not an error."""
    import signal

    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, assert_bit_equal, scenario

    kind, made = where
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    sc = scenario(**CASES["lstm"])
    plain = run_scenario(sc, recording="full")
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        with norms_alongside():
            along = run_scenario(sc, recording="full")
        along["diag.model.0.l0.fwd.jacnorm"]
    finally:
        signal.signal(signal.SIGCHLD, old)
    assert len(made) == (kind == "process")
    assert_bit_equal(plain, along)


@pytest.mark.parametrize("case", ["lstm", "gru-stacked-initial"])
def test_a_child_computes_norms_while_the_forward_pass_records(case, child, monkeypatch):
    """In a child process: the child's progress (a chunk of norms done) reaches the caller's listener before the
    forward pass records its last segment, and the norms are the run's to the bit."""
    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import assert_bit_equal

    made = child
    monkeypatch.setattr(diagnostics, "STEP_CHUNK_ELEMENTS", 1000)
    sc, plain = _plain_run(monkeypatch, case)
    chunk_done = threading.Event()
    waited: list[bool] = []
    real_forward = checkpoint.Segments._forward

    def forward(segs, k):
        if k == len(segs.bounds) - 1:
            waited.append(chunk_done.wait(10))
        return real_forward(segs, k)

    def heard(label, done, total):
        if label.startswith("Jacobian norms") and done > 0:
            chunk_done.set()

    monkeypatch.setattr(checkpoint.Segments, "_forward", forward)
    with norms_alongside(), reporting(heard):
        along = run_scenario(sc, recording="full")
        along[next(k for k in along if k.endswith(".jacnorm"))]
    assert waited == [True] and len(made) == 1 and _gone(made[0].pid)
    assert_bit_equal(plain, along)


def test_a_narrowed_map_computes_one_chunk_at_a_time_until_widened():
    """While the run still has a core (the event set), the norms take the other only; once it is cleared, two
    chunks run at once, and the results keep their order."""
    from rnntui.engine import spectral

    narrow = threading.Event()
    narrow.set()
    lock = threading.Lock()
    running, most = [0], []

    def work(i):
        with lock:
            running[0] += 1
            most.append((i, running[0]))
        threading.Event().wait(0.05)
        with lock:
            running[0] -= 1
        if i == 3:
            narrow.clear()
        return i * i

    assert list(spectral.map_chunks(work, range(10), workers=2, narrow=narrow)) == [i * i for i in range(10)]
    assert max(n for i, n in most if i <= 3) == 1
    assert max(n for i, n in most if i > 4) == 2


def test_without_the_wish_nothing_is_computed_alongside(monkeypatch):
    from rnntui.engine import checkpoint
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, scenario

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    calls = []
    monkeypatch.setattr(diagnostics, "jacobian_norms", lambda *a, **k: calls.append(1))
    trace = run_scenario(scenario(**CASES["lstm"]), recording="full")
    assert calls == [] and trace.recording.segments == 3


def test_a_sweep_that_fails_drops_its_norms(where, monkeypatch):
    """The backward pass fails while the norms compute (slowly): they stop, the thread waited for, the child
    killed and waited for."""
    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, scenario

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    ran_out = []

    def slow(*a, **k):
        for _ in range(1000):
            report("norms", 0, 1)
            threading.Event().wait(0.01)
        ran_out.append(1)

    def broken(*a, **k):
        raise FloatingPointError("backward failed")

    monkeypatch.setattr(diagnostics, "jacobian_norms", slow)
    monkeypatch.setattr(checkpoint.Segments, "_backward", broken)
    with norms_alongside(), pytest.raises(FloatingPointError):
        run_scenario(scenario(**CASES["lstm"]), recording="full")
    assert not ran_out and _asides() == []
    kind, made = where
    assert len(made) == (kind == "process") and all(_gone(child.pid) for child in made)


def test_the_api_and_export_ask_for_them(tmp_path, monkeypatch):
    """`rnntui.run(path, jacobian=True)` and `rnntui export --jacobian` run with the wish; `export` without it
    and `rnntui.run(path)` do not."""
    from typer.testing import CliRunner

    from rnntui.cli import app
    from rnntui.engine import aside as aside_module

    wished = []
    real = aside_module.norms_alongside

    def spy(wanted=True):
        wished.append(wanted)
        return real(wanted)

    monkeypatch.setattr(aside_module, "norms_alongside", spy)
    rnntui.run("rnn-sine", jacobian=True)
    rnntui.run("rnn-sine")
    runner = CliRunner()
    assert runner.invoke(app, ["export", "rnn-sine", "-o", str(tmp_path / "a.npz"), "--jacobian"]).exit_code == 0
    assert runner.invoke(app, ["export", "rnn-sine", "-o", str(tmp_path / "b.npz")]).exit_code == 0
    assert runner.invoke(app, ["export", "rnn-sine", "-o", str(tmp_path / "c.txt"), "--jacobian"]).exit_code == 0
    assert wished == [True, False, True, False, False]


@pytest.mark.parametrize("make", ["many_to_one", "encoder_decoder"])
def test_a_kind_with_a_pass_of_its_own_derives_its_norms_when_read(make, monkeypatch):
    """A many-to-one or an encoder-decoder recorded whole in segments is asked for its norms: it derives them when
    read (nothing alongside), to the same bits."""
    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine import test_checkpoint_kinds as kinds
    from tests.engine.test_checkpoint import assert_bit_equal

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", kinds.S)
    sc = getattr(kinds, make)(kind="lstm", **({"decoder": "lstm"} if make == "encoder_decoder" else {}))
    plain = run_scenario(sc, recording="full")
    with norms_alongside():
        along = run_scenario(sc, recording="full")
    assert along.recording.segments == 3 and _asides() == []
    assert any(k.endswith(".jacnorm") for k in along._derived)
    assert_bit_equal(plain, along)



def test_a_failed_write_drops_the_norms_computed_alongside_and_a_later_read_derives_them(tmp_path, where,
                                                                                        monkeypatch):
    """A run made with the wish computes the norms alongside its backward pass, and `save` waits for them on a
    thread of its own: a write that fails stops that wait and the norms it waited for (the caller goes on within
    a chunk, not once every norm is done), and a later read computes them anew, to the same bits."""
    import time

    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, scenario

    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    sc = scenario(**CASES["lstm-stacked"])
    alone = run_scenario(sc, recording="full")
    expected = {k: alone[k] for k in alone if k.endswith(".jacnorm")}
    norms = SlowNorms(monkeypatch)

    def explode(*a, **k):
        raise OSError("disk full")

    kind, made = where
    with norms_alongside():
        trace = run_scenario(sc, recording="full")
    # computing alongside: here, or in the child (whose own copy of `norms` notes it)
    assert trace.recording.segments == 3 and (norms.reached if kind == "thread" else len(made) == 1)
    out = tmp_path / "t.npz"
    with monkeypatch.context() as m:
        m.setattr(np.lib.format, "write_array", explode)
        begun = time.monotonic()
        with pytest.raises(ExportError, match="disk full"):
            trace.save(out, jacobian=True)
        waited = time.monotonic() - begun
    assert not norms.ran_out and _asides() == []     # the sweep's norms dropped too, and waited for
    assert all(_gone(child.pid) for child in made)
    assert waited < 5, waited
    assert list(tmp_path.iterdir()) == []
    norms.slow = False
    for k, v in expected.items():
        np.testing.assert_array_equal(trace[k], v)


def test_a_signal_that_interrupts_the_wait_leaves_drop_waiting_for_the_work():
    """A signal whose handler raises (rnntui's: `Ended`) while the caller waits for the result, then `drop`: it
    waits until the work has stopped, also when that takes a while (the chunk under way). Thread.join alone would
    not: an interrupted join marks the thread stopped while it runs on (CPython's bpo-45274 handling)."""
    import signal
    import time

    class Interrupted(Exception):
        pass

    ended = []

    def work_fn():
        try:
            for _ in range(2000):
                report("work", 0, 1)
                time.sleep(0.005)
        finally:
            time.sleep(0.3)     # the chunk under way when it was dropped
            ended.append(1)

    def handler(signum, frame):
        raise Interrupted

    old = signal.signal(signal.SIGALRM, handler)
    try:
        work = Aside(work_fn)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(Interrupted):
            work.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    work.drop()
    assert ended and _asides() == []


def test_the_forward_arrays_joined_for_the_norms_are_held_once(monkeypatch):
    """The norms' thread reads the forward arrays joined whole while the backward pass runs on each segment's
    record: the segments' records read the joined arrays (views), so the sweep holds the forward pass once, not
    twice (the segments' parts beside the joined copy, as a plain run does at its end), from then to its end
    (traced: the peak is below the plain run's by most of those arrays; it was within 0.1 of them)."""
    import json
    import tracemalloc

    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from rnntui.scenario.loader import load_scenario

    from rnntui.engine import norms_stream

    monkeypatch.setattr(norms_stream, "PROCESS", False)   # traced: a child's shared mapping is not Python's memory
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", 64)
    T, B, H = 640, 2, 32
    rng = np.random.default_rng(0)
    sc = load_scenario("held.yaml", json.dumps({
        "version": 1, "mode": "many-to-many", "input": {"batch": rng.normal(size=(B, T, 3)).round(3).tolist()},
        "model": [{"type": "lstm", "hidden_size": H}], "loss": {"kind": "sum"}}))
    # the norms themselves cost nothing here: what is measured is what the sweep holds for them
    monkeypatch.setattr(diagnostics, "jacobian_norms", lambda entry, arrays, params, place, **k: np.zeros((T, B)))

    def peak(wish: bool) -> int:
        tracemalloc.start()
        try:
            with norms_alongside(wish):
                trace = run_scenario(sc, recording="full")
            assert trace.recording.segments == 10
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    plain, along = peak(False), peak(True)
    forward = 6 * T * B * H * 8      # the place's h, c and four gates
    # a plain run joins each forward array at its end, beside the segments' parts (twice); a run computing its norms
    # alongside joined them before its backward pass, and its segments' records then read them: once
    assert along < plain - forward / 2, (plain, along, forward)


def test_norms_over_the_memory_left_beside_the_backward_pass_wait_for_it(monkeypatch):
    """The norms' working arrays, beside the backward pass's, would pass the memory limit: nothing is computed
    alongside, and the norms are derived when read, to the same bits."""
    from rnntui.engine import checkpoint
    from rnntui.engine.aside import norms_alongside
    from rnntui.engine.scenario_run import run_scenario
    from tests.engine.test_checkpoint import CASES, S, assert_bit_equal, scenario

    from rnntui.engine import norms_stream

    monkeypatch.setattr(norms_stream, "PROCESS", False)   # the thread names where they are computed
    monkeypatch.setattr(checkpoint, "SEGMENT_MAX", S)
    sc = scenario(**CASES["lstm"])
    plain = run_scenario(sc, recording="full")
    limit = plain.recording.need + 1000      # room for the run and 1000 bytes more
    threads = _spy_norms(monkeypatch)
    with norms_alongside():
        along = run_scenario(sc, max_memory=limit, recording="full")
    assert along.recording.segments == 3 and threads == []
    assert_bit_equal(plain, along)
    assert threads and "rnntui-aside" not in threads
    with norms_alongside():                  # with room for them, they are computed alongside
        run_scenario(sc, max_memory=limit + (1 << 30), recording="full")["diag.model.0.l0.fwd.jacnorm"]
    assert "rnntui-aside" in threads
