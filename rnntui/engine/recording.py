"""How much a run records: everything (the default), or only what a training iteration needs.

A training replay runs every iteration but keeps the full record of a few; the per-step norms of every
parameter-gradient term (`gradnorm.step.*`, shown only for the iteration on screen) took about a tenth of
each iteration. Iterations whose record is thrown away run inside `lean()`, which skips them; an
iteration the user steps to is recomputed outside it, with everything. A context variable rather than
one more argument through every handler: it is what the run leaves out, not what it computes, and it
stays correct in worker threads (each thread sees its own value).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_STEP_NORMS: ContextVar[bool] = ContextVar("rnntui_step_norms", default=True)


def step_norms() -> bool:
    """Whether this run records `gradnorm.step.*`."""
    return _STEP_NORMS.get()


@contextmanager
def lean():
    """Runs inside record what training needs (loss, gradients, the BPTT profile), not the per-step norms."""
    token = _STEP_NORMS.set(False)
    try:
        yield
    finally:
        _STEP_NORMS.reset(token)


__all__ = ["lean", "step_norms"]
