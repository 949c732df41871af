"""diag.*.jacnorm computed in chunks is the same as computed whole (no PyTorch needed)."""
import numpy as np

import rnntui
from rnntui.engine import diagnostics
from rnntui.engine.keys import Place


def test_chunking_does_not_change_the_norms(monkeypatch):
    trace = rnntui.run("tanh-saturation")
    e = trace.info.entries[0]
    whole = trace["diag.model.0.l0.fwd.jacnorm"]
    monkeypatch.setattr(diagnostics, "STEP_CHUNK_ELEMENTS", 1)  # one step per chunk
    monkeypatch.setattr(diagnostics.spectral, "ROW_BUDGET", 1)  # one row per Lanczos batch
    chunked = diagnostics.jacobian_norms(e, trace, diagnostics.ParamView(trace), Place(0, 0, "fwd"))
    np.testing.assert_allclose(chunked, whole, rtol=1e-10)
    assert whole.shape == (40, 1) and np.all(whole > 0)
