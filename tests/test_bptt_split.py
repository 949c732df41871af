"""dL/dh_t = (from the output at t) + (through time): the split the engine records and the TUI shows,
checked against the gradient of the entry's output that the engine recorded."""
import numpy as np
import pytest

import rnntui
from rnntui.engine.keys import Place


def external(trace, place):
    """dL/dh_t that came from the entry's own output at t (top sub-layer only)."""
    e = trace.info.entries[place.entry]
    g = trace[f"grad.model.{e.index}.out"]
    H = e.hidden_size
    T, B = trace[f"{place.prefix}.h"].shape[:2]
    if e.reduce_final:
        ext = np.zeros((T, B, H))
        t_last = T - 1 if place.direction == "fwd" else 0
        ext[t_last] = g[:, :H] if place.direction == "fwd" or len(e.directions) == 1 else g[:, H:]
        return ext
    if len(e.directions) == 1 or e.merge == "sum":
        return g
    assert e.merge == "concat"
    return g[..., :H] if place.direction == "fwd" else g[..., H:]


@pytest.mark.parametrize("name", ["bptt", "brnn-apple", "bilstm-apple", "gru-delayed-recall",
                                  "lstm-delayed-recall", "many-to-one", "rnn-sine", "stacked-lstm"])
def test_split_adds_up(name):
    trace = rnntui.run(name)
    e = trace.info.entries[0]
    for d in e.directions:
        for j in range(e.num_layers):
            place = Place(0, j, d)
            total = trace[place.grad_key("h")]
            from_output = trace[place.grad_key("h.from_output")]
            through = trace[place.grad_key("h.through_time")]
            if j == e.num_layers - 1:  # the top sub-layer's share comes from the entry's own output
                np.testing.assert_allclose(from_output, external(trace, place), rtol=0, atol=0)
            np.testing.assert_allclose(from_output + through, total, rtol=1e-12, atol=1e-15, err_msg=f"{d} l{j}")
            start = e.steps - 1 if d == "fwd" else 0  # where BPTT starts nothing has come through time yet
            assert not through[start].any()
            if e.type == "lstm":
                np.testing.assert_allclose(trace[place.grad_key("c.from_h")] + trace[place.grad_key("c.through_time")],
                                           trace[place.grad_key("c")], rtol=1e-12, atol=1e-15)
