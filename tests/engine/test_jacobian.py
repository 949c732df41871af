"""diag.*.jacnorm against the Jacobian dh_t/dh_{t-1} that torch.autograd computes."""
import pytest

import torch

import rnntui  # noqa: E402
from rnntui.engine import diagnostics  # noqa: E402
from rnntui.engine.keys import Place  # noqa: E402
from tests.torch_ref import _cell_step  # noqa: E402


@pytest.mark.parametrize("name", ["lstm-delayed-recall", "gru-delayed-recall", "tanh-saturation", "bilstm-apple"])
def test_jacobian_norm_matches_autograd(name):
    trace = rnntui.run(name)
    fresh = rnntui.run(name)  # never reads the full diag array: jacobian_norm_at computes one step
    e = trace.info.entries[0]
    for d in e.directions:
        sfx = "_l0" + ("_reverse" if d == "bwd" else "")
        P = {k.split(".", 2)[2]: torch.tensor(trace[k]) for k in trace if k.startswith("param.0.")}
        x = torch.tensor(trace["input"])
        prefix = f"model.0.l0.{d}"
        jac = trace[f"diag.{prefix}.jacnorm"]
        T = trace.info.T
        for t in range(T):
            tp = t - 1 if d == "fwd" else t + 1
            for b in range(trace.info.B):
                def h_prev(k):
                    return torch.tensor(trace[f"{prefix}.{k}"][tp, b]) if 0 <= tp < T else torch.zeros(e.hidden_size,
                                                                                                    dtype=torch.float64)
                c_prev = h_prev("c") if e.type == "lstm" else None

                def step(h):
                    out, _, _ = _cell_step(e.type, e.nonlinearity, x[t, b:b + 1], h[None], c_prev[None]
                                           if c_prev is not None else None, P, sfx)
                    return out[0]

                J = torch.autograd.functional.jacobian(step, h_prev("h"))
                ref = torch.linalg.matrix_norm(J, ord=2).item()
                assert abs(jac[t, b] - ref) < 1e-9 * max(1, ref), (d, t, b, jac[t, b], ref)
                one = diagnostics.jacobian_norm_at(fresh, Place(0, 0, d), t)[b]
                assert abs(one - ref) < 1e-9 * max(1, ref)
