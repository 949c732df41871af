"""diag.*.jacnorm against torch at a hidden size where engine/spectral.py runs its float32 phase first (H above
SINGLE_BELOW): every family, two layers, both directions, a packed batch; each step's Jacobian dh_t/dh_{t-1}
from torch.autograd.functional.jacobian and its spectral norm from torch.linalg.matrix_norm(ord=2)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rnntui
from rnntui.engine import diagnostics, spectral
from rnntui.engine.keys import Place
from tests.torch_ref import _cell_step

H = 40
T, FEATURES = 6, 3
RAGGED = [6, 2, 4]   # a packed batch: each sample's own length


def _scenario(kind: str, nl: str | None, packed: bool) -> str:
    rng = np.random.default_rng(len(kind) + packed)
    entry = {"type": kind, "hidden_size": H, "num_layers": 2, "bidirectional": True}
    if nl:
        entry["nonlinearity"] = nl
    lengths = RAGGED if packed else [T, T]
    doc = {"version": 1, "seed": 3, "dtype": "float64", "mode": "many-to-many",
           "input": {"batch": [rng.normal(size=(n, FEATURES)).round(3).tolist() for n in lengths]},
           "model": [entry, {"type": "dense", "units": 1}],
           "weights": {"init": "uniform", "low": -0.5, "high": 0.5}, "loss": {"kind": "sum"}}
    return json.dumps(doc)


CASES = [("lstm", None, False), ("gru", None, False), ("rnn", "tanh", False), ("rnn", "relu", False),
         ("lstm", None, True), ("gru", None, True)]


@pytest.mark.parametrize("kind,nl,packed", CASES, ids=[f"{k}-{n or ''}-{'packed' if p else 'full'}" for k, n, p in CASES])
def test_every_steps_jacobian_norm_matches_torch(tmp_path, kind, nl, packed):
    assert H > spectral.SINGLE_BELOW   # the float32 phase runs, then the float64 one certifies
    path = tmp_path / "wide.yaml"
    path.write_text(_scenario(kind, nl, packed))
    trace = rnntui.run(path)
    fresh = rnntui.run(path)   # one step at a time (what a view reads), never the whole array
    info = trace.info
    assert info.packs(info.entries[0]) == packed
    P = {k.split(".", 2)[2]: torch.tensor(trace[k]) for k in trace if k.startswith("param.0.")}
    zeros = torch.zeros(H, dtype=torch.float64)
    checked = 0
    for layer in (0, 1):
        for d in ("fwd", "bwd"):
            prefix = f"model.0.l{layer}.{d}"
            sfx = f"_l{layer}" + ("_reverse" if d == "bwd" else "")
            jac = trace[f"diag.{prefix}.jacnorm"]
            for b in range(info.B):
                own = info.length_of(b)
                for t in range(T):
                    if t >= own:   # padding: the state is zero whatever came before
                        assert jac[t, b] == 0
                        continue
                    tp = t - 1 if d == "fwd" else t + 1
                    real = 0 <= tp < own

                    def prev(name):
                        return torch.tensor(trace[f"{prefix}.{name}"][tp, b]) if real else zeros

                    x = (torch.tensor(trace["input"][t, b]) if layer == 0 else
                         torch.cat([torch.tensor(trace[f"model.0.l0.{e}.h"][t, b]) for e in ("fwd", "bwd")]))
                    c_prev = prev("c") if kind == "lstm" else None

                    def step(h):
                        out, _, _ = _cell_step(kind, nl, x[None], h[None], None if c_prev is None else c_prev[None],
                                               P, sfx)
                        return out[0]

                    ref = torch.linalg.matrix_norm(torch.autograd.functional.jacobian(step, prev("h")), ord=2).item()
                    assert abs(jac[t, b] - ref) <= 1e-10 * ref, (prefix, t, b, jac[t, b], ref)
                    one = diagnostics.jacobian_norm_at(fresh, Place(0, layer, d), t)[b]
                    assert abs(one - ref) <= 1e-10 * ref, (prefix, t, b, one, ref)
                    checked += 1
    assert checked == 4 * sum(RAGGED if packed else [T, T])
