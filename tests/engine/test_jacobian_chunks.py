"""diag.*.jacnorm computed in chunks is the same as computed whole (no PyTorch needed)."""
import numpy as np

import rnntui
from rnntui.engine import diagnostics


def test_chunking_does_not_change_the_norms(monkeypatch):
    trace = rnntui.run("tanh-saturation")
    e = trace.info.entries[0]
    whole = trace["diag.model.0.l0.fwd.jacnorm"]
    monkeypatch.setattr(diagnostics, "CHUNK_ELEMENTS", 1)  # one step per chunk
    chunked = diagnostics.jacobian_norms(e, trace, diagnostics.ParamView(trace), 0, "fwd")
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
    assert whole.shape == (40, 1) and np.all(whole > 0)
