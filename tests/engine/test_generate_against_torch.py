"""`feed: output` (a one-to-many generator) against a PyTorch loop that feeds out[t-1] back in, float64 to
1e-9: every family x 1 and 2 layers, continuous feedback (a dense output fed back, and softmax
probabilities fed back under cross_entropy), arg-max feedback through an embedding (no gradient through
the choice), and an initial state; loss, outputs, what each step read, every parameter gradient, dL/dh_t
(and dL/dc_t) of every sub-layer per step, dL/d(each step's input) and dL/dh_0."""
from __future__ import annotations

import json

import numpy as np
import pytest

import torch

import rnntui  # noqa: E402

FAMILIES = ["rnn", "lstm", "gru"]
CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
T, B, D, H, V, E = 5, 3, 2, 4, 6, 3
ACT = {"none": lambda v: v, "tanh": torch.tanh, "softmax": lambda v: torch.softmax(v, -1)}


def run_doc(tmp_path, doc):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(doc))
    return rnntui.run(p)


def continuous(kind, layers, seed=0, activation="tanh", **extra):
    rng = np.random.default_rng(seed)
    doc = {"mode": "one-to-many", "length": T, "feed": "output", "seed": seed,
           "input": {"batch": rng.normal(size=(B, 1, D)).round(3).tolist()},
           "model": [{"type": kind, "hidden_size": H, "num_layers": layers},
                     {"type": "dense", "units": D, "activation": activation}],
           "weights": {"init": "uniform", "low": -0.8, "high": 0.8},
           "loss": {"kind": "mse", "target": rng.normal(size=(B, T, D)).round(3).tolist()}}
    doc.update(extra)
    return doc


def arg_max(kind, layers, seed=0):
    rng = np.random.default_rng(seed)
    return {"mode": "one-to-many", "length": T, "feed": "output", "seed": seed,
            "input": {"tokens": [[int(i)] for i in rng.integers(0, V, B)]},
            "model": [{"type": "embedding", "num_embeddings": V, "embedding_dim": E},
                      {"type": kind, "hidden_size": H, "num_layers": layers},
                      {"type": "dense", "units": V, "activation": "softmax"}],
            "weights": {"init": "uniform", "low": -1.5, "high": 1.5},
            "loss": {"kind": "cross_entropy", "target": rng.integers(0, V, (B, T)).tolist()}}


def torch_loop(trace, kind, layers, rec_index, embedding, h0=None, c0=None):
    """The generator as a PyTorch user writes it: one cell per sub-layer, stepped by hand, out[t-1] fed back
    (its arg-max id through the embedding). Every h_t, c_t and fed input keeps its gradient; each step runs
    the cells and the head on its own copy of the parameters (torch.func.functional_call), so a copy's
    gradient is that step's contribution to the parameter's gradient."""
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k], dtype=np.float64)) for k in trace if k.startswith("param.")}
    stems = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    cells = [CELLS[kind](D if not embedding and j == 0 else (E if j == 0 else H), H).double() for j in range(layers)]
    head = rec_index + 1
    fc = torch.nn.Linear(H, V if embedding else D).double()
    emb = torch.nn.Embedding(V, E).double() if embedding else None
    with torch.no_grad():
        if emb is not None:
            emb.weight.copy_(P["0.weight"])
    per_step = {}  # parameter name -> one copy per step
    act = trace.info.entries[-1].activation
    hs = [torch.zeros(B, H, dtype=torch.float64) if h0 is None else h0[j] for j in range(layers)]
    cs = [torch.zeros(B, H, dtype=torch.float64) if c0 is None else c0[j] for j in range(layers)]
    x0 = torch.tensor(np.asarray(trace["input"][0], dtype=np.float64))
    fed, read, kept_h, kept_c, outs, logits = [], [], [], [], [], []
    x = x0[:, 0].long() if embedding else x0.clone().requires_grad_(True)

    def call(module, pattern, *args):
        names = [n for n, _ in module.named_parameters()]
        copies = {n: P[pattern.format(n)].clone().requires_grad_(True) for n in names}
        for n, v in copies.items():
            per_step.setdefault(pattern.format(n), []).append(v)
        return torch.func.functional_call(module, copies, args)

    for t in range(T):
        fed.append(x)
        inp = emb(x) if embedding else x
        if embedding or t > 0:
            inp.retain_grad()
        read.append(inp)
        step_h, step_c = [], []
        for j, cell in enumerate(cells):
            pattern = f"{rec_index}.{{}}_l{j}"
            if kind == "lstm":
                hs[j], cs[j] = call(cell, pattern, inp, (hs[j], cs[j]))
                cs[j].retain_grad()
            else:
                hs[j] = call(cell, pattern, inp, hs[j])
            hs[j].retain_grad()
            step_h.append(hs[j])
            step_c.append(cs[j])
            inp = hs[j]
        z = call(fc, f"{head}.{{}}", inp)
        y = ACT[act](z)
        logits.append(z)
        outs.append(y)
        kept_h.append(step_h)
        kept_c.append(step_c)
        # arg-max: an integer, outside autograd; a clone, so its gradient is only what the next step sends back
        x = torch.argmax(y, -1) if embedding else y.clone()
    if trace.info.loss == "mse":
        sq = (torch.stack(outs) - torch.tensor(np.asarray(trace["meta.target"], dtype=np.float64))) ** 2
        terms = sq.reshape(T, -1).sum(1) / sq.numel()
    else:
        z = torch.stack(logits)
        nll = torch.nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]),
                                                torch.tensor(trace["meta.target"]).reshape(-1), reduction="none")
        terms = nll.reshape(T, -1).sum(1) / nll.numel()
    loss = terms.sum()
    loss.backward(retain_graph=True)
    grads = {name: sum(c.grad for c in copies).numpy() for name, copies in per_step.items()}
    if emb is not None:
        grads["0.weight"] = emb.weight.grad.numpy()
    ref = {
        "loss": float(loss.detach()), "loss.step": terms.detach().numpy(), "output": torch.stack(outs).detach().numpy(),
        "grads": grads, "step_norms": {name: np.array([float(c.grad.norm()) for c in copies])
                                       for name, copies in per_step.items()},
        "input": (torch.stack(fed)[..., None].double() if embedding else torch.stack(fed)).detach().numpy(),
        "grad.input": torch.stack([r.grad for r in read]).numpy(),
        "dh": [np.stack([kept_h[t][j].grad.numpy().copy() for t in range(T)]) for j in range(layers)],
        "dc": [np.stack([kept_c[t][j].grad.numpy().copy() for t in range(T)]) for j in range(layers)] if kind == "lstm" else None,
    }
    # the last step's loss term alone, carried back to every h_t: what the verdict measures (read after the
    # total gradients: this pass adds into the retained .grad too)
    flat = [kept_h[t][j] for j in range(layers) for t in range(T)]
    one_term = torch.autograd.grad(terms[-1], flat)
    # sample by sample: row b of each h_t's gradient is sample b's own term's (samples never mix)
    ref["term"] = [np.stack([one_term[j * T + t].reshape(-1, one_term[j * T + t].shape[-1]).norm(dim=-1).numpy()
                             for t in range(T)]) for j in range(layers)]
    return ref


def check(trace, ref, kind, layers, rec_index):
    tol = dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trace["input"], ref["input"], **tol)
    np.testing.assert_allclose(trace["loss"], ref["loss"], **tol)
    np.testing.assert_allclose(trace["loss.step"], ref["loss.step"], **tol)
    np.testing.assert_allclose(trace["output"], ref["output"], **tol)
    np.testing.assert_allclose(trace["grad.input"], ref["grad.input"], **tol)
    assert set(ref["grads"]) == {k[len("grad.param."):] for k in trace if k.startswith("grad.param.")}
    for name, g in ref["grads"].items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, err_msg=name, **tol)
    for name, norms in ref["step_norms"].items():  # each step's contribution to a parameter's gradient
        np.testing.assert_allclose(trace[f"gradnorm.step.{name}"], norms, err_msg=name, **tol)
    for j in range(layers):
        place = f"model.{rec_index}.l{j}.fwd"
        np.testing.assert_allclose(trace[f"grad.{place}.h"], ref["dh"][j], err_msg=f"dL/dh_t of l{j}", **tol)
        # the recorded split adds up to the total at every step
        np.testing.assert_allclose(trace[f"grad.{place}.h.from_output"] + trace[f"grad.{place}.h.through_time"],
                                   trace[f"grad.{place}.h"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(trace[f"diag.{place}.term_gradnorm"], ref["term"][j], err_msg=f"term l{j}", **tol)
        if kind == "lstm":
            np.testing.assert_allclose(trace[f"grad.{place}.c"], ref["dc"][j], err_msg=f"dL/dc_t of l{j}", **tol)


# seeds whose generators change their id along the way in every sample (so the feedback is exercised)
ARG_MAX_SEEDS = {("rnn", 1): 0, ("rnn", 2): 0, ("lstm", 1): 0, ("lstm", 2): 1, ("gru", 1): 0, ("gru", 2): 5}
GRID = [(k, n) for k in FAMILIES for n in (1, 2)]
IDS = [f"{k}-l{n}" for k, n in GRID]


@pytest.mark.parametrize("kind,layers", GRID, ids=IDS)
def test_continuous_feedback_matches_a_torch_loop(tmp_path, kind, layers):
    trace = run_doc(tmp_path, continuous(kind, layers))
    ref = torch_loop(trace, kind, layers, 0, embedding=False)
    check(trace, ref, kind, layers, 0)
    # the feedback is what it says: every step after the first read the step before's output
    np.testing.assert_array_equal(trace["input"][1:], trace["output"][:-1])


@pytest.mark.parametrize("kind,layers", GRID, ids=IDS)
def test_arg_max_feedback_through_an_embedding_matches_a_torch_loop(tmp_path, kind, layers):
    trace = run_doc(tmp_path, arg_max(kind, layers, ARG_MAX_SEEDS[kind, layers]))
    ref = torch_loop(trace, kind, layers, 1, embedding=True)
    check(trace, ref, kind, layers, 1)
    ids = trace["input"][1:, :, 0].astype(int)
    np.testing.assert_array_equal(ids, np.argmax(trace["output"][:-1], -1))
    assert all(len(np.unique(ids[:, b])) > 1 for b in range(B)), "every sample should choose more than one id"
    # the tokens the views show are the ones chosen
    np.testing.assert_array_equal(trace["token_ids"], trace["input"][..., 0].astype(int))


@pytest.mark.parametrize("kind", FAMILIES)
def test_softmax_probabilities_fed_back_match_a_torch_loop(tmp_path, kind):
    """Continuous feedback through a final softmax under cross_entropy: the loss's shortcut to the logits
    covers its own term, the fed-back gradient goes through the softmax's Jacobian."""
    rng = np.random.default_rng(3)
    doc = continuous(kind, 1, seed=3, activation="softmax")
    doc["loss"] = {"kind": "cross_entropy", "target": rng.integers(0, D, (B, T)).tolist()}
    trace = run_doc(tmp_path, doc)
    ref = torch_loop(trace, kind, 1, 0, embedding=False)
    check(trace, ref, kind, 1, 0)


@pytest.mark.parametrize("kind", FAMILIES)
def test_initial_state_of_a_generator_gets_its_gradient(tmp_path, kind):
    rng = np.random.default_rng(5)
    state = {"h": rng.normal(size=(2, B, H)).round(3).tolist()}
    if kind == "lstm":
        state["c"] = rng.normal(size=(2, B, H)).round(3).tolist()
    doc = continuous(kind, 2, seed=5)
    doc["model"][0]["initial_state"] = state
    trace = run_doc(tmp_path, doc)
    h0 = torch.tensor(state["h"], dtype=torch.float64, requires_grad=True)
    c0 = torch.tensor(state["c"], dtype=torch.float64, requires_grad=True) if kind == "lstm" else None
    ref = torch_loop(trace, kind, 2, 0, embedding=False, h0=h0, c0=c0)
    check(trace, ref, kind, 2, 0)
    for j in range(2):
        np.testing.assert_allclose(trace[f"model.0.l{j}.fwd.h0"], state["h"][j])
        np.testing.assert_allclose(trace[f"grad.model.0.l{j}.fwd.h0"], h0.grad[j].numpy(), rtol=1e-9, atol=1e-12)
        if c0 is not None:
            np.testing.assert_allclose(trace[f"grad.model.0.l{j}.fwd.c0"], c0.grad[j].numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", FAMILIES)
def test_a_float32_generator_stays_within_1e5_of_the_torch_loop(tmp_path, kind):
    trace = run_doc(tmp_path, continuous(kind, 2, seed=7, dtype="float32"))
    assert trace["output"].dtype == np.float32 and trace["grad.input"].dtype == np.float32
    ref = torch_loop(trace, kind, 2, 0, embedding=False)  # in float64, from the float32 run's parameters and input
    tol = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trace["loss"], ref["loss"], **tol)
    np.testing.assert_allclose(trace["output"], ref["output"], **tol)
    np.testing.assert_allclose(trace["grad.input"], ref["grad.input"], **tol)
    for name, g in ref["grads"].items():
        np.testing.assert_allclose(trace[f"grad.param.{name}"], g, err_msg=name, **tol)
    np.testing.assert_allclose(trace["grad.model.0.l0.fwd.h"], ref["dh"][0], **tol)
