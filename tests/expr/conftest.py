"""Small runs shared by the expression tests: each family as a 2-layer bidirectional entry."""
from __future__ import annotations

import pytest

import rnntui

FAMILY_SCENARIO = """\
name: {family}-expr
input: {{generate: {{kind: noise, length: 7, features: 3, batch: 2}}}}
seed: 3
model:
  - {{type: {family}, hidden_size: 4, num_layers: 2, bidirectional: true}}
  - {{type: dense, units: 2}}
loss: {{kind: mse, target: {target}}}
"""


def family_text(family: str) -> str:
    return FAMILY_SCENARIO.format(family=family, target=[[[0.5, -0.5]] * 7] * 2)  # (B, T, F)


class _Runs(dict):
    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def __missing__(self, family: str):
        p = self.folder / f"{family}.yaml"
        p.write_text(family_text(family))
        trace = self[family] = rnntui.run(str(p))
        return trace


@pytest.fixture(scope="session")
def family_runs(tmp_path_factory) -> _Runs:
    """family name -> Trace of FAMILY_SCENARIO, run once per session."""
    return _Runs(tmp_path_factory.mktemp("expr-runs"))
