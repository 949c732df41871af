"""`layernorm` (nn.LayerNorm over each step's features) against PyTorch, float64 to 1e-12, in a chain:
with and without its scale and shift, its recorded statistics, dL/d(input) and its parameters' gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnntui


@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_layernorm_in_a_chain_matches_torch(tmp_path, affine, bias):
    path = tmp_path / "ln.yaml"
    path.write_text(f"""
input: {{generate: {{kind: noise, length: 6, features: 5, batch: 3}}}}
weights: {{init: normal, std: 0.5}}
model:
  - {{type: layernorm, eps: 0.001, elementwise_affine: {str(affine).lower()}, bias: {str(bias).lower()}}}
  - {{type: dense, units: 2}}
loss: {{kind: sum}}
""")
    trace = rnntui.run(path)
    x = torch.tensor(np.asarray(trace["input"]), requires_grad=True)
    ln = torch.nn.LayerNorm(5, eps=0.001, elementwise_affine=affine, bias=bias).double()
    if affine:
        assert np.all(trace["param.0.weight"] == 1.0)          # nn.LayerNorm's init under any `init`
        with torch.no_grad():
            ln.weight.copy_(torch.tensor(np.asarray(trace["param.0.weight"])))
            if bias:
                ln.bias.copy_(torch.tensor(np.asarray(trace["param.0.bias"])))
    W = torch.tensor(np.asarray(trace["param.1.weight"]), requires_grad=True)
    y = ln(x)
    y.retain_grad()
    out = y @ W.T + torch.tensor(np.asarray(trace["param.1.bias"]))
    out.sum().backward()
    np.testing.assert_allclose(trace["model.0.out"], y.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace["model.0.mean"], x.mean(-1).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace["model.0.var"], x.var(-1, unbiased=False).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace["grad.input"], x.grad.numpy(), rtol=1e-12, atol=1e-12)
    if affine:
        np.testing.assert_allclose(trace["grad.param.0.weight"], ln.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
        if bias:
            np.testing.assert_allclose(trace["grad.param.0.bias"], ln.bias.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert ("param.0.bias" in trace) == (affine and bias)
