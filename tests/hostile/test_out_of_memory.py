"""Out of memory where rnntui's estimates did not foresee it: one line, exit status 1, no traceback, no file left."""
from __future__ import annotations

from tests.hostile.test_signals import LONG_CHAIN, _child


def test_running_out_of_memory_is_one_line_and_leaves_no_file(tmp_path):
    """A MemoryError the estimates did not foresee (here: the norms' child out of memory) ends the command with
    one line on stderr, exit status 1, no traceback, and no file or temporary file left."""
    scenario = tmp_path / "chain.yaml"
    scenario.write_text(LONG_CHAIN)
    out = tmp_path / "out.npz"
    proc = _child("""
        from rnntui.engine import checkpoint, diagnostics
        checkpoint.SEGMENT_MAX = 64
        def jacobian_norms(*a, **k):
            raise MemoryError("no room for the Jacobian norms")
        diagnostics.jacobian_norms = jacobian_norms
    """, ["export", str(scenario), "-o", str(out), "--jacobian"])
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("rnntui: out of memory: no room for the Jacobian norms.") and "--max-memory" in err
    assert list(tmp_path.iterdir()) == [scenario]
