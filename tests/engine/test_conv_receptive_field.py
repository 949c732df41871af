"""receptive_field explains each conv output: its products and bias sum to it (no PyTorch needed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnntui.engine.conv import receptive_field
from tests.engine.conv_cases import CONV2D, _run


@pytest.mark.parametrize("conv", CONV2D[:8], ids=lambda c: json.dumps(c, separators=(",", ":")))
def test_receptive_field_products_sum_to_the_output(tmp_path, conv):
    rng = np.random.default_rng(4)
    doc = {"input": {"image": rng.normal(size=(4, 7, 6)).round(3).tolist()},
           "model": [{"type": "conv2d", "out_channels": 4, **conv}], "loss": {"kind": "sum"},
           "weights": {"init": "uniform", "low": -1, "high": 1}}
    trace = _run(tmp_path, doc)
    lay = trace.info.entries[0]
    pre = trace["model.0.out"]
    x = trace["input"]
    for o in range(pre.shape[1]):
        for y in range(pre.shape[2]):
            for xx in range(pre.shape[3]):
                rows, cols, chans, prods, bias, total = receptive_field(
                    lay, x, trace["param.0.weight"], trace["param.0.bias"], 0, o, (y, xx))
                assert abs(total - pre[0, o, y, xx]) < 1e-12
                assert abs(bias + prods.sum() - pre[0, o, y, xx]) < 1e-12
                assert prods.shape == (len(chans), len(rows), len(cols))
