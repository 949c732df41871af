"""A CNN's pictures and numbers: kernels drawn weight by weight, pixel saliency against torch autograd, the
dense layer's W·x+b and softmax step, and the class probabilities (torch's softmax)."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from rich.console import Console

from rnntui.engine.attribution import Seed, backprop
from rnntui.render.cursor import Cursor
from rnntui.render.maps.draw import shades
from rnntui.render.maps.pictures import ZOOM, kernels, saliency
from rnntui.render.views import cell_panel, states


def plain(renderable, width: int = 200) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def torch_input_grad(trace, quantity):
    """d quantity/d input through torch's own conv, pool and linear layers (weights from the trace)."""
    import torch.nn.functional as F

    x = torch.tensor(np.asarray(trace["input"]), dtype=torch.float64, requires_grad=True)
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), dtype=torch.float64) for k in trace
         if k.startswith("param.")}
    h = F.relu(F.conv2d(x, P["0.weight"], P["0.bias"], padding=1))
    h = F.max_pool2d(h, 2)
    h = F.relu(F.conv2d(h, P["2.weight"], P["2.bias"]))
    h = F.max_pool2d(h, 2).flatten(1)
    z = h @ P["5.weight"].T + P["5.bias"]
    quantity(z).backward()
    return x.grad.numpy(), z.detach().numpy()


def test_kernels_are_drawn_weight_by_weight(traces):
    trace = traces["cnn-digit"]
    e = trace.info.entries[0]
    W = np.asarray(trace["param.0.weight"], dtype=float)
    scale = float(np.abs(W).max())
    parts = kernels(trace, e, Cursor(unit=2), 120)
    assert f"kernels (weights) of all 8 output channels, shared scale ±{scale:.3g}" in plain(parts[0])
    drawn = parts[1].drawn(False)   # without colour: one shade character a pixel, ZOOM x ZOOM a weight
    rows = ["".join(t for t, _ in row) for row in drawn.rows]
    assert rows[0].split()[2] == "▸2"   # the selected output channel is marked
    for k in range(8):
        want = shades(np.kron(W[k, 0], np.ones((ZOOM, ZOOM))), (), scale)
        want_rows = ["".join(t for t, _ in row) for row in want.rows]
        col = k * (3 * ZOOM + 1)
        got = [r[col:col + 3 * ZOOM] for r in rows[1:1 + len(want_rows)]]
        assert got == want_rows, k


def test_pixel_saliency_is_torchs_input_gradient(traces):
    trace = traces["cnn-digit"]
    e = trace.info.entries[0]
    target = int(np.asarray(trace["meta.target"]).reshape(-1)[0])
    g, _ = torch_input_grad(trace, lambda z: torch.nn.functional.cross_entropy(z, torch.tensor([target])))
    np.testing.assert_allclose(trace["grad.input"], g, rtol=0, atol=1e-14)
    text = plain(saliency(trace, e, Cursor(phase="backward"), 100)[:1], 200)
    mag = np.abs(g[0, 0])
    r, col = np.unravel_index(int(np.argmax(mag)), mag.shape)
    assert f"largest |dL/dx| {mag[r, col]:.3g} at row {r}, col {col}" in text
    # a class's saliency: the gradient of its log-probability, as `o logp 3` shows it
    g3, _ = torch_input_grad(trace, lambda z: torch.log_softmax(z, -1)[0, 3])
    seeded = backprop(trace, Seed("logp", sample=0, unit=3))
    mag3 = np.abs(g3[0, 0])
    r3, c3 = np.unravel_index(int(np.argmax(mag3)), mag3.shape)
    assert f"largest |dL/dx| {mag3[r3, c3]:.3g} at row {r3}, col {c3}" in plain(
        saliency(seeded, e, Cursor(phase="backward"), 100)[:1], 200)
    assert saliency(trace, e, Cursor(phase="forward"), 100) == []


def test_the_dense_layers_sum_softmax_and_class_bars(traces):
    trace = traces["cnn-digit"]
    info = trace.info
    last = len(info.entries) - 1
    index = next(k for k, p in enumerate(info.places) if p.entry == last)
    u = 7
    text = plain(cell_panel(trace, Cursor(place_index=index, unit=u), 200))
    W, b = np.asarray(trace[f"param.{last}.weight"]), np.asarray(trace[f"param.{last}.bias"])
    x = np.asarray(trace[f"model.{last - 1}.out"][0])
    _, z = torch_input_grad(trace, lambda z: z.sum())
    z = z[0]
    p = torch.softmax(torch.tensor(z), -1).numpy()
    m = re.search(r"z_7 = W\[7\]·x \+ b_7 = Σ of 32 products w×x (\S+) \+ bias (\S+) = (\S+)", text)
    assert m, text
    assert float(m.group(1)) == pytest.approx(float(W[u] @ x), abs=1e-4)
    assert float(m.group(2)) == pytest.approx(float(b[u]), abs=1e-4)
    assert float(m.group(3)) == pytest.approx(float(z[u]), abs=1e-4)
    m = re.search(r"p_7 = exp\(z_7 - max z\) / Σ_k exp\(z_k - max z\) = exp\((\S+)\) / (\S+) = (\S+)", text)
    assert m, text
    assert float(m.group(1)) == pytest.approx(float(z[u] - z.max()), abs=1e-4)
    assert float(m.group(2)) == pytest.approx(float(np.exp(z - z.max()).sum()), abs=1e-4)
    assert float(m.group(3)) == pytest.approx(float(p[u]), abs=1e-4)
    target = int(np.asarray(trace["meta.target"]).reshape(-1)[0])
    pred = int(np.argmax(p))
    assert f"class probabilities: predicted {pred}, target {target}" in text
    for k in range(10):
        row = next(line for line in text.splitlines() if re.match(rf"^\s*▸?\s*{k} [█·]+ ", line))
        assert f"{p[k]:6.1%}" in row
        assert ("target" in row) == (k == target) and ("predicted" in row) == (k == pred)


def test_a_regression_output_has_no_class_bars(traces):
    trace = traces["stacked-lstm"]
    index = len(trace.info.places) - 1
    text = plain(cell_panel(trace, Cursor(place_index=index), 200))
    assert "z_0 = W[0]·x + b_0" in text and "class probabilities" not in text
    assert "kernels" not in plain(states(traces["cnn-digit"], Cursor(phase="backward"), 100, 30))


def test_grouped_kernels_name_the_input_channels_each_output_channel_reads(tmp_path):
    from tests.engine.conv_cases import _run

    rng = np.random.default_rng(1)
    doc = {"input": {"image": rng.normal(size=(4, 6, 6)).round(3).tolist()},
           "model": [{"type": "conv2d", "out_channels": 4, "kernel_size": 3, "groups": 2},
                     {"type": "flatten"}, {"type": "dense", "units": 2}],
           "loss": {"kind": "cross_entropy", "target": 1}}
    trace = _run(tmp_path, doc)
    e = trace.info.entries[0]
    from rich.console import Group

    text = plain(Group(*kernels(trace, e, Cursor(unit=3), 120)))
    assert "kernel of output channel 3: one 3×3 slice per input channel it reads (2..3)" in text
    assert "in 2" in text and "in 3" in text and "in 0" not in text
