"""What the engine records besides the forward and backward arrays, against PyTorch: each step's
loss term (loss.step), dLoss/dinput (grad.input) and one loss term's gradient as BPTT carries it back
(diag.*.term_gradnorm), which the vanishing/exploding verdict measures."""
import textwrap

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402
from rnntui.engine.keys import Place  # noqa: E402
from rnntui.render.analysis import verdict  # noqa: E402
from tests.torch_ref import manual, step_losses  # noqa: E402

MANY_TO_MANY = {
    "sum-gru-bi": ("gru", "bidirectional: true, merge: sum", "{kind: sum}"),
    "mse-lstm-stacked": ("lstm", "num_layers: 2", "{kind: mse, target: %s}"),
    "ce-rnn-softmax": ("rnn", "bidirectional: true", "{kind: cross_entropy, target: [0, 2, 1, 1, 0, 2, 1]}"),
}


def scenario(tmp_path, case):
    family, extra, loss = MANY_TO_MANY[case]
    last = "{type: dense, units: 3, activation: softmax}" if "cross" in loss else "{type: dense, units: 2}"
    if "%s" in loss:
        loss = loss % np.round(np.linspace(-1, 1, 14).reshape(7, 2), 2).tolist()
    path = tmp_path / f"{case}.yaml"
    path.write_text(textwrap.dedent(f"""\
        seed: 4
        input: {{generate: {{kind: noise, length: 7, features: 3}}}}
        model:
          - {{type: {family}, hidden_size: 4, {extra}}}
          - {last}
        loss: {loss}
        """))
    return rnntui.run(path)


@pytest.mark.parametrize("case", sorted(MANY_TO_MANY))
def test_step_losses_and_input_gradient(tmp_path, case):
    trace = scenario(tmp_path, case)
    values, grads = manual(trace)
    ref = {}

    def keep(info, out, pre, tr, dtype):
        ref["steps"] = step_losses(info, out, pre, tr, dtype)
        return ref["steps"].sum()

    manual(trace, loss_fn=keep)
    np.testing.assert_allclose(trace["loss.step"], ref["steps"].detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trace["loss.step"].sum(), trace["loss"], rtol=1e-12)
    np.testing.assert_allclose(trace["grad.input"], grads["grad.input"], rtol=1e-9, atol=1e-12)


def test_one_term_gradient_is_paid_for_only_when_read(tmp_path):
    trace = scenario(tmp_path, "sum-gru-bi")
    keys = [p.diag_key("term_gradnorm") for p in trace.info.places if p.recurrent]
    assert keys and all(k in trace and not trace.is_computed(k) for k in keys)
    trace[keys[0]]
    assert trace.is_computed(keys[0])


@pytest.mark.parametrize("case", sorted(MANY_TO_MANY))
def test_one_term_gradient_against_torch(tmp_path, case):
    """||dL_s/dh_t|| for s = where each direction's BPTT starts: the last step (fwd) or step 0 (bwd)."""
    trace = scenario(tmp_path, case)
    T = trace.info.T
    for s, direction in ((T - 1, "fwd"), (0, "bwd")):
        def one_term(info, out, pre, tr, dtype, s=s):
            return step_losses(info, out, pre, tr, dtype)[s]

        _, grads = manual(trace, loss_fn=one_term)
        for place in trace.info.places:
            if place.direction != direction:
                continue
            ref = np.sqrt((grads[place.grad_key("h")].reshape(T, -1) ** 2).sum(1))
            np.testing.assert_allclose(trace[place.diag_key("term_gradnorm")][:, 0], ref, rtol=1e-9, atol=1e-15,
                                       err_msg=place.prefix)
            assert trace[place.diag_key("term_step")].tolist() == [s]


def test_verdict_measures_one_term_not_the_total(tmp_path):
    """A many-to-many model whose total dL/dh_t stays level (each step has its own loss) while the last
    step's loss fades as it travels back: the verdict must say vanishing, and say what it measured."""
    path = tmp_path / "level.yaml"
    path.write_text(textwrap.dedent("""\
        input: {values: [[1], [1], [1], [1], [1], [1], [1], [1], [1], [1], [1], [1]]}
        model:
          - {type: rnn, hidden_size: 1, nonlinearity: identity}
        weights: {init: constant, value: 0.0, set: {0.weight_ih_l0: [[1.0]], 0.weight_hh_l0: [[0.5]]}}
        loss: {kind: sum}
        """))
    trace = rnntui.run(path)
    total = trace["diag.model.0.l0.fwd.gradnorm"]
    assert total[0] > total[-1]  # the total grows towards step 0: every later step adds its own term
    term = trace["diag.model.0.l0.fwd.term_gradnorm"][:, 0]
    np.testing.assert_allclose(term, 0.5 ** np.arange(11, -1, -1), rtol=1e-15)  # exactly 0.5^n
    v = verdict(trace, Place(0, 0, "fwd"))
    assert v.kind == "vanishing" and v.factor == pytest.approx(0.5, rel=1e-12)
    assert "step 11 loss term alone" in v.basis


@pytest.mark.parametrize("name,factor", [("vanishing-gradient", 0.5), ("exploding-gradient", 2.0)])
def test_seed_cases_stay_exact(name, factor):
    trace = rnntui.run(name)
    v = verdict(trace, trace.info.places[0])
    assert v.factor == pytest.approx(factor, rel=1e-12)
    assert "the loss reads one output, so it is one loss term" in v.basis


@pytest.mark.parametrize("case", sorted(MANY_TO_MANY))
def test_the_one_term_pass_is_lean(tmp_path, case, monkeypatch):
    """Reading the one-term gradients runs the recurrent families' recursion alone: no weight gradient, no
    per-step products (issue 27: it was a second full backward pass)."""
    import rnntui.engine.entries.recurrent as recurrent
    from rnntui.engine.families import driver

    trace = scenario(tmp_path, case)
    calls, leans = [], []
    monkeypatch.setattr(recurrent, "record_step_norms", lambda *a, **k: calls.append(a))
    original = driver.weight_grads

    def spy(*a, lean=False, **k):
        leans.append(lean)
        return original(*a, lean=lean, **k)

    monkeypatch.setattr(driver, "weight_grads", spy)
    for place in trace.info.places:
        if place.recurrent:
            trace[place.diag_key("term_gradnorm")]
    assert leans and all(leans) and not calls
