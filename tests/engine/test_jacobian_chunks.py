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


def test_the_chunks_are_equal_and_even_so_two_threads_finish_together():
    """step_chunks: the steps covered once, in order, every chunk within STEP_CHUNK_ELEMENTS, their count even (two
    threads share them evenly) and their sizes within one of each other: 5,000 steps of a GRU with H = 256 (682 a
    chunk at most) are 8 chunks of 625, not 7 of 682 and one of 226 (one thread computing 4 of them, the other 3.3)."""
    limit = diagnostics.STEP_CHUNK_ELEMENTS
    assert diagnostics.step_chunks(5000, 1, 768) == [(s, s + 625) for s in range(0, 5000, 625)]
    for n, B, width in [(5000, 1, 1024), (1, 1, 768), (7, 3, 1 << 20), (64, 32, 1024), (100_000, 2, 96), (3, 1, 4)]:
        chunks = diagnostics.step_chunks(n, B, width)
        assert [c[0] for c in chunks] == [0] + [c[1] for c in chunks[:-1]] and chunks[-1][1] == n
        sizes = [b - a for a, b in chunks]
        assert all(s * B * width <= limit for s in sizes) or max(sizes) == 1
        if len(chunks) > 1 and max(sizes) > 1:   # (single steps cannot be shared more evenly)
            assert len(chunks) % diagnostics.CHUNK_SHARES == 0
            assert max(sizes) - min(sizes) <= max(sizes) // len(chunks) + 1
