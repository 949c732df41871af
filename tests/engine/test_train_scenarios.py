"""The bundled training scenarios show what their descriptions say."""
from __future__ import annotations

import numpy as np

import rnntui


def test_lstm_learns_delayed_recall_and_the_rnn_does_not():
    lstm, rnn = rnntui.run("training-lstm-memory"), rnntui.run("training-rnn-memory")
    assert lstm["train.loss"][-1] < 0.01
    assert abs(rnn["train.loss"][-1] - np.log(2)) < 1e-3
    f = "model.0.l0.fwd.gates.f"
    assert lstm[f].mean() > lstm.iteration(0)[f].mean() + 0.05     # the forget gate opens
    # the gradient reaching step 0, relative to step 29's, at the best iteration
    reach = lambda t: (t["train.bptt.model.0.l0.fwd"][:, 0] / t["train.bptt.model.0.l0.fwd"][:, -1]).max()
    assert reach(lstm) > 0.1 and reach(rnn) < 1e-5


def test_clipping_tames_the_exploding_run():
    wild, tame = rnntui.run("training-exploding"), rnntui.run("training-exploding-clipped")
    np.testing.assert_array_equal(wild["train.loss"][0], tame["train.loss"][0])
    assert int(wild["train.nonfinite.iteration"]) > 0 and not np.isfinite(wild["train.loss"][-1])
    assert not wild["train.clipped"].any() and tame["train.clipped"][:5].all()
    assert int(tame["train.nonfinite.iteration"]) == -1 and tame["train.loss"][-1] < 0.01


def test_a_gru_learns_delayed_recall_as_its_description_says():
    t = rnntui.run("training-gru-memory")
    loss = t["train.loss"]
    assert loss[0] > 0.69 and int(np.argmax(loss < 0.1)) in range(50, 63) and loss[-1] < 1e-3
    b = t["train.bptt.model.0.l0.fwd"]
    assert b[0, 0] / b[0, -1] < 1e-6 and 0.25 < b[50, 0] / b[50, -1] < 0.45
    z0, z1 = (t.iteration(k)["model.0.l0.fwd.gates.z"].mean() for k in (0, t.iterations - 1))
    assert 0.45 < z0 < 0.51 and 0.52 < z1 < 0.58
