"""The debugger's tools on graph models, on bundled graph scenarios: `rnntui check` at a recurrence (its states,
step-graph values and jacnorm), `--compare` of two graph runs, training a graph with a recurrence against a
torch training loop, and the text/HTML reports with a recurrence's BPTT section."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import rnntui
from rnntui.expr.check import check_trace
from tests.engine.test_graph_whatif import leaves


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rnntui", *args], capture_output=True, text=True, cwd=cwd)


def test_check_reads_a_recurrences_states_step_values_and_jacobian(traces):
    trace = traces["graph-custom-cell"]
    z = np.asarray(trace["model.0.z.out"]).reshape(16, -1)
    jac = np.asarray(trace["diag.model.0.jacnorm"])[:, 0]
    fails = np.flatnonzero(~((z > 0.39).all(axis=1) & (jac < 0.765)))
    assert 0 < len(fails) < 16
    result = check_trace(trace, ["norm(dh) > 1e-6", "all(z > 0.39) and jacnorm < 0.765 @model.0"])
    ok, bad = result.assertions
    assert ok.ok and not bad.ok
    # no @place: a graph's recurrence is checked by default, as a recurrent place is
    r = cli("check", "graph-custom-cell", "--assert", "norm(dh) > 1e-6", "--assert", "max(abs(cand)) < 1")
    assert r.returncode == 0, r.stderr
    assert "ok    norm(dh) > 1e-6  (1 place, 16 steps)" in r.stdout
    r = cli("check", "graph-custom-cell", "--assert", "all(z > 0.39) and jacnorm < 0.765")
    assert r.returncode == 1
    assert f"fails at {len(fails)} of 16 steps" in r.stdout
    from rnntui.expr.errors import ExprError

    with pytest.raises(ExprError, match="found the unknown name 'dq'.*has h, xh, z, cand.*dh"):
        check_trace(trace, ["norm(dq) > 0"])


def test_a_scenarios_debug_section_on_a_graph_checks_step_names_before_the_run(tmp_path):
    text = rnntui.run("graph-custom-cell")["meta.scenario"].item()
    path = tmp_path / "s.yaml"
    path.write_text(text + "debug:\n  watch: [mean(z) @model.0]\n  break: [norm(dq) < 1 @model.0]\n")
    r = cli("validate", str(path))
    assert r.returncode == 2 and "found the unknown name 'dq'" in r.stderr and "s.yaml:" in r.stderr
    from rnntui.errors import ScenarioError

    path.write_text(text + "debug:\n  watch: [mean(z) @model.0, norm(cell.c) @model.0]\n"
                    "  break: [norm(dh) < 1 @model.0]\n")
    with pytest.raises(ScenarioError, match="'cell.c'"):   # this step graph has no cell
        rnntui.run(path)
    path.write_text(text + "debug:\n  watch: [mean(z) @model.0]\n  break: [norm(dh) < 1 @model.0]\n")
    assert rnntui.run(path).info.watch == ("mean(z) @model.0",)


def test_compare_two_graph_runs(tmp_path):
    out = tmp_path / "c.txt"
    r = cli("export", "graph-residual-lstm", "--compare", "graph-layernorm-lstm", "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    a, b = rnntui.run("graph-residual-lstm"), rnntui.run("graph-layernorm-lstm")
    assert f"{float(a['loss']):.4f}" in text and f"{float(b['loss']):.4f}" in text


def test_reports_of_a_graph_run_show_a_recurrences_bptt_and_verdict(tmp_path, traces):
    trace = traces["graph-attention-reverse"]
    for kind in ("txt", "html"):
        out = tmp_path / f"r.{kind}"
        r = cli("export", "graph-attention-reverse", "-o", str(out))
        assert r.returncode == 0, r.stderr
        text = out.read_text()
        assert "model.4 dec recurrence" in text and "all 4 samples are healthy" in text
        g = np.asarray(trace["diag.model.4.gradnorm"])
        jac = np.asarray(trace["diag.model.4.jacnorm"])
        assert f"{g[0]:.3e}" in text and f"{jac[1, 0]:.4g}" in text and f"{jac[1].max():.4g}" in text


TRAIN = "train: {iterations: 4, optimizer: {kind: adam, lr: 0.05}}\n"


def test_training_a_graph_with_a_recurrence_matches_a_torch_training_loop(tmp_path):
    text = rnntui.run("graph-custom-cell")["meta.scenario"].item()
    path = tmp_path / "s.yaml"
    path.write_text(text + TRAIN)
    trace = rnntui.run(path)
    first = trace.iteration(0)
    P = leaves(first)
    opt = torch.optim.Adam(P.values(), lr=0.05)
    x = torch.tensor(np.asarray(first["input.x"]))
    losses, before = [], []
    for _ in range(4):
        before.append({n: p.detach().clone().numpy() for n, p in P.items()})
        opt.zero_grad()
        h = torch.zeros(1, 6, dtype=torch.float64)
        hs = []
        for t in range(16):
            xh = torch.cat([x[t], h], dim=-1)
            z = torch.sigmoid(xh @ P["0.z.weight"].T + P["0.z.bias"])
            h = h + z * (torch.tanh(xh @ P["0.cand.weight"].T + P["0.cand.bias"]) - h)
            hs.append(h)
        loss = (torch.stack(hs) @ P["1.weight"].T + P["1.bias"]).sum()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    np.testing.assert_allclose(trace["train.loss"], losses, rtol=1e-10, atol=1e-10)
    last = trace.iteration(3)   # iteration 3's record: the parameters torch had after three steps
    for name in P:
        np.testing.assert_allclose(last[f"param.{name}"], before[3][name], rtol=1e-10, atol=1e-12, err_msg=name)
    assert float(last["loss"]) == pytest.approx(losses[3], rel=1e-10)
    # and its recurrence's diagnostics, as any run's; the training pane's BPTT picture reads ‖dL/dh_t‖ of each iteration
    assert last["diag.model.0.jacnorm"].shape == (16, 1) and "gradnorm.step.0.z.weight" in last
    for k in (0, 3):
        np.testing.assert_array_equal(trace["train.bptt.model.0"][k], trace.iteration(k)["diag.model.0.gradnorm"])


def test_a_cells_second_value_and_its_state_by_name(tmp_path):
    from tests.engine.test_graph_whatif import LSTM_CELL

    path = tmp_path / "s.yaml"
    path.write_text(LSTM_CELL)
    trace = rnntui.run(path)
    c = float(np.abs(np.asarray(trace["model.0.cell.c"])).max())
    result = check_trace(trace, [f"max(abs(cell.c)) <= {c!r}", f"max(abs(cell.c)) < {c!r}", "all(c == cell.c)"])
    assert [a.ok for a in result.assertions] == [True, False, True]
