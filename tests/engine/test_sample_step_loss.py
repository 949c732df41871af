"""loss.sample_step: each sample's own loss, step by step (the loss the run would have with that sample alone),
against PyTorch's losses on the recorded output (equal lengths and packed), and its relation to loss.step."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import torch
F = torch.nn.functional

import rnntui  # noqa: E402

LOSSES = {
    "sum": "{kind: sum}",
    "mse": "{kind: mse, target: %s}",
    "cross_entropy": "{kind: cross_entropy, target: %s}",
}


def run(tmp_path, kind: str):
    rng = np.random.default_rng(3)
    loss = LOSSES[kind]
    if kind == "mse":
        loss = loss % np.round(rng.normal(size=(3, 6, 2)), 2).tolist()
    elif kind == "cross_entropy":
        loss = loss % rng.integers(0, 2, size=(3, 6)).tolist()
    path = tmp_path / f"{kind}.yaml"
    path.write_text(textwrap.dedent(f"""\
        seed: 5
        input: {{generate: {{kind: noise, length: 6, features: 3, batch: 3}}}}
        model:
          - {{type: gru, hidden_size: 4}}
          - {{type: dense, units: 2}}
        loss: {loss}
        """))
    return rnntui.run(path)


def torch_rows(trace, kind: str) -> np.ndarray:
    """(T, B) from PyTorch: sample b's loss alone (its own reduction), split into its steps."""
    out = torch.tensor(np.asarray(trace["output"], dtype=np.float64))  # (T, B, F)
    T, B = out.shape[:2]
    rows = np.zeros((T, B))
    for b in range(B):
        for t in range(T):
            o = out[t, b]
            if kind == "sum":
                rows[t, b] = float(o.sum())
            elif kind == "mse":  # the mean over the sample's T*F elements: each step holds its share
                tgt = torch.tensor(np.asarray(trace["meta.target"]), dtype=torch.float64)[t, b]
                rows[t, b] = float(F.mse_loss(o, tgt, reduction="sum")) / (T * o.numel())
            else:
                tgt = torch.tensor(np.asarray(trace["meta.target"]))[t, b]
                rows[t, b] = float(F.cross_entropy(o[None], tgt[None])) / T
    return rows


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_each_samples_own_loss_per_step(tmp_path, kind):
    trace = run(tmp_path, kind)
    rows = np.asarray(trace["loss.sample_step"], dtype=float)
    np.testing.assert_allclose(rows, torch_rows(trace, kind), rtol=1e-9, atol=1e-12)
    combine = np.sum if kind == "sum" else np.mean  # the batch's loss: the samples' summed, or their mean
    np.testing.assert_allclose(combine(rows, axis=1), trace["loss.step"], rtol=1e-9, atol=1e-12)


def test_a_packed_samples_row_is_its_own_loss_over_its_own_steps(traces):
    trace = traces["bilstm-lengths"]  # cross_entropy, lengths 4, 5, 5, 6
    rows = np.asarray(trace["loss.sample_step"], dtype=float)
    out = torch.tensor(np.asarray(trace["output"], dtype=np.float64))
    target = torch.tensor(np.asarray(trace["meta.target"]))
    logits = torch.log(out) if trace.info.entries[-1].activation == "softmax" else out
    for b, n in enumerate(trace.info.lengths):
        alone = F.cross_entropy(logits[:n, b], target[:n, b], reduction="none") / n
        np.testing.assert_allclose(rows[:n, b], alone.numpy(), rtol=1e-9, atol=1e-12)
        assert (rows[n:, b] == 0).all()
