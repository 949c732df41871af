"""Every command and the Python API's heavy calls do their linear algebra on one BLAS thread
(rnntui/blas.py, through threadpoolctl), and give the caller's limits back after."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np  # noqa: F401  (loads the BLAS threadpoolctl reports)
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import rnntui
from rnntui.blas import BLAS_THREADS

ROOT = Path(__file__).resolve().parents[1]


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


pytestmark = pytest.mark.skipif(not blas_threads(), reason="threadpoolctl finds no BLAS under NumPy here")

# In a fresh process: every command run in-process (CliRunner) with the process at 2 BLAS threads;
# what each command's work is given is recorded where the work is done.
PROBE = r'''
import json, sys
import numpy
from threadpoolctl import threadpool_info, threadpool_limits
from typer.testing import CliRunner

import rnntui.engine, rnntui.scenario, rnntui.scenario.weights, rnntui.tui.app
import textual_serve.server
from rnntui.cli import app

seen = []
def threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

def recording(owner, name):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        seen.append((name, threads()))
        return original(*args, **kwargs)
    setattr(owner, name, wrapper)

recording(rnntui.engine, "run_scenario")
recording(rnntui.scenario, "load_scenario")
recording(rnntui.scenario.weights, "read_weight_file")
rnntui.tui.app.RnntuiApp.run = lambda self, *a, **k: seen.append(("app", threads()))
textual_serve.server.Server.serve = lambda self, *a, **k: seen.append(("serve", threads()))
import rnntui.tui.serve
rnntui.tui.serve.RnntuiServer.serve = lambda self, *a, **k: seen.append(("serve", threads()))

out = {}
threadpool_limits(2, user_api="blas")
for args in json.loads(sys.argv[1]):
    del seen[:]
    result = CliRunner().invoke(app, args)
    out[args[0]] = {"exit": result.exit_code, "output": result.output, "seen": list(seen), "after": threads()}
print(json.dumps(out))
'''


def test_every_command_works_on_one_blas_thread_and_gives_the_limit_back(tmp_path):
    weights = tmp_path / "w.npz"
    np.savez(weights, **{"0.weight_ih_l0": np.ones((3, 2)), "0.weight_hh_l0": np.ones((3, 3)),
                         "0.bias_ih_l0": np.ones(3), "0.bias_hh_l0": np.ones(3)})
    commands = [["run", "bptt"], ["show", "bptt"], ["export", "bptt", "-o", str(tmp_path / "r.txt")],
                ["check", "bptt", "--assert", "norm(dh) >= 0"], ["validate", "bptt"],
                ["scaffold", str(weights), "-o", str(tmp_path / "s.yaml")], ["serve", "bptt", "--port", "8765"]]
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    for args in commands:
        r = results[args[0]]
        assert r["exit"] == 0, (args, r["output"])
        assert r["seen"], f"{args[0]}: none of its work was seen"
        for where, threads in r["seen"]:
            assert threads and set(threads) == {BLAS_THREADS}, (args[0], where, threads)
        assert set(r["after"]) == {2}, (args[0], r["after"])   # the command's limit given back


def test_one_thread_loads_the_blas_before_limiting_it():
    """threadpoolctl limits only libraries already loaded: a fresh process (no numpy yet) is limited too."""
    code = ("import sys\nfrom rnntui.blas import one_thread\nassert 'numpy' not in sys.modules\none_thread()\n"
            "from threadpoolctl import threadpool_info\n"
            "print([lib['num_threads'] for lib in threadpool_info() if lib['user_api'] == 'blas'])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"[{BLAS_THREADS}]"


def test_the_python_api_works_on_one_thread_and_gives_the_callers_limit_back(monkeypatch, traces):
    import rnntui.engine
    import rnntui.engine.whatif
    import rnntui.expr.check

    seen = []

    def recording(owner, name):
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, **k: (seen.append((name, blas_threads())), original(*a, **k))[1])

    recording(rnntui.engine, "run_scenario")
    recording(rnntui.expr.check, "check_trace")
    recording(rnntui.engine.whatif, "what_if")
    with threadpool_limits(2, user_api="blas"):
        trace = rnntui.run("vanishing-gradient")
        assert set(blas_threads()) == {2}
        rnntui.check(trace, "norm(dh) >= 0")
        assert set(blas_threads()) == {2}
        rnntui.what_if(trace, [{"at": "model.0.l0.fwd", "t": 3, "set": "h", "value": 0.0}])
        assert set(blas_threads()) == {2}
    assert [name for name, _ in seen] == ["run_scenario", "check_trace", "what_if"]
    assert all(set(threads) == {BLAS_THREADS} for _, threads in seen), seen
