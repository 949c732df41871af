"""dL/dh_t = (from the output at t) + (through time): the split the TUI shows, checked against the
gradient of the entry's output that the engine recorded."""
import numpy as np
import pytest

import rnntui
from rnntui.render.analysis import Place, through_time


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
                                  "lstm-delayed-recall", "many-to-one", "rnn-sine"])
def test_split_adds_up(name):
    trace = rnntui.run(name)
    e = trace.info.entries[0]
    for d in e.directions:
        place = Place(0, e.num_layers - 1, d)
        total = trace[f"grad.{place.prefix}.h"]
        ext = external(trace, place)
        T, B = total.shape[:2]
        for t in range(T):
            for b in range(B):
                through = through_time(trace, place, t, b)
                if through is None:
                    np.testing.assert_allclose(total[t, b], ext[t, b], atol=1e-12)
                else:
                    np.testing.assert_allclose(total[t, b] - through, ext[t, b], atol=1e-12, err_msg=f"{d} t={t}")
