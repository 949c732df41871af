"""Convolution cases and a runner the conv tests share, with torch and without."""
from __future__ import annotations

import json

import rnntui


def _run(tmp_path, doc):
    (tmp_path / "s.yaml").write_text(json.dumps(doc))
    return rnntui.run(tmp_path / "s.yaml")


CONV2D = [
    {"kernel_size": 3},
    {"kernel_size": 3, "padding": 1},
    {"kernel_size": 3, "padding": "same", "dilation": 2},
    {"kernel_size": [2, 3], "padding": "same"},
    {"kernel_size": 3, "stride": 2},
    {"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0]},
    {"kernel_size": 2, "dilation": 2, "stride": 2},
    {"kernel_size": 3, "groups": 2, "padding": 1},
    {"kernel_size": 1, "groups": 4},
]
