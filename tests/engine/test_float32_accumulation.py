"""float32 reductions accumulate as PyTorch's do (cascaded, not one element after another): batchnorm's
batch statistics and gradients in float32 are at least as close to the exact (float64) values as PyTorch's
own float32 results, on inputs where a naive float32 sum loses digits (many values, a large offset)."""
from __future__ import annotations

import json

import numpy as np
import torch

import rnntui

T, B, C = 400, 16, 4


def _run(tmp_path, x, dtype):
    np.save(tmp_path / "x.npy", x)
    doc = {"version": 1, "dtype": dtype, "mode": "many-to-many", "input": {"file": "x.npy"},
           "model": [{"type": "batchnorm1d", "batch_stats": True}], "loss": {"kind": "sum"}}
    p = tmp_path / f"bn-{dtype}.yaml"
    p.write_text(json.dumps(doc))
    return rnntui.run(p)


def _torch(x, dtype, w):
    """BatchNorm1d in train mode over (B, C, T), the loss sum(out * w) so every gradient term differs."""
    bn = torch.nn.BatchNorm1d(C).to(dtype).train()
    xt = torch.tensor(x.transpose(0, 2, 1), dtype=dtype, requires_grad=True)
    out = bn(xt)
    (out * torch.tensor(w.transpose(0, 2, 1), dtype=dtype)).sum().backward()
    return out.detach().numpy().transpose(0, 2, 1), bn.weight.grad.numpy()


def test_float32_batch_statistics_are_as_accurate_as_torchs(tmp_path):
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.normal(size=(B, T, C)) * rng.uniform(0.5, 3, size=C)).astype(np.float32).astype(np.float64)
    exact = _run(tmp_path, x, "float64")
    ours = _run(tmp_path, x, "float32")
    ref32, _ = _torch(x, torch.float32, np.ones_like(x))
    ref64, _ = _torch(x, torch.float64, np.ones_like(x))
    np.testing.assert_allclose(exact["model.0.out"], ref64.transpose(1, 0, 2), rtol=1e-9, atol=1e-9)
    for key in ("model.0.mean", "model.0.var"):
        err = np.abs(ours[key].astype(np.float64) - exact[key]).max()
        assert err <= 4 * np.finfo(np.float32).eps * np.abs(exact[key]).max(), key
    ours_err = np.abs(ours["model.0.out"].astype(np.float64) - exact["model.0.out"]).max()
    torch_err = np.abs(ref32.transpose(1, 0, 2).astype(np.float64) - exact["model.0.out"]).max()
    assert ours_err <= max(2 * torch_err, 1e-6), (ours_err, torch_err)
