"""A graph model trains as a chain does: each iteration runs its minibatch of every named input, SGD
moves each parameter (a shared one once, by its summed gradient), dropout nodes get their masks."""
from __future__ import annotations

import numpy as np

import rnntui

SCENARIO = """
inputs:
  a: {generate: {kind: noise, length: 5, features: 2, batch: 4}}
  b: {generate: {kind: noise, length: 5, features: 2, batch: 4}}
model:
  - {id: enc_a, type: lstm, hidden_size: 3, from: a}
  - {id: enc_b, same_as: enc_a, from: b}
  - {id: drop, op: mul, from: enc_b, value: 2.0}
  - {id: d, type: dropout, p: 0.3, from: enc_a}
  - {id: both, op: add, from: [d, drop]}
  - {id: head, type: dense, units: 2}
loss: {kind: sum}
train: {iterations: 3, batch_size: 2, optimizer: {kind: sgd, lr: 0.1}}
"""


def test_sgd_on_a_graph_moves_each_parameter_by_its_summed_gradient(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(SCENARIO)
    t = rnntui.run(path)
    assert len(np.asarray(t["train.loss"])) == 3
    for k in range(2):
        now, nxt = t.iteration(k), t.iteration(k + 1)
        names = [key[len("param."):] for key in now.keys() if key.startswith("param.")]
        assert "1.weight_ih_l0" not in names and "0.weight_ih_l0" in names   # the shared LSTM: one parameter
        for n in names:
            np.testing.assert_allclose(nxt[f"param.{n}"], now[f"param.{n}"] - 0.1 * now[f"grad.param.{n}"],
                                       rtol=1e-12, atol=1e-14)
        assert "model.3.mask" in now.keys()
        assert now["input.a"].shape[1] == 2 and now["input.b"].shape[1] == 2   # the minibatch of each input
    # minibatches in order: iteration 1 reads samples 2 and 3 of both inputs
    from rnntui.scenario.loader import load_scenario

    sc = load_scenario(path)
    np.testing.assert_array_equal(t.iteration(1)["input.b"], sc.inputs["b"][:, 2:4])
    np.testing.assert_array_equal(t.iteration(1)["input.a"], sc.inputs["a"][:, 2:4])
