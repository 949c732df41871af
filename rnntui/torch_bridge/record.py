"""`rnntui.record(...)`: one iteration of the user's own training loop, recorded into a folder.

    for step, (x, y) in enumerate(loader):
        with rnntui.record(model, x, target=y, loss="cross_entropy", step=step, to="runs/exp1",
                           every=10):
            opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()

On entry (every `every`-th step; the others pass straight through) the module is read as `from_torch`
reads it, with the parameters it has before the update, and the batch is run forward and backward by
the engine: the full record of that iteration (every gate, state and per-step gradient), checked against
the module's own output. On exit the parameters are read again: the update the user's optimizer
actually made (whatever it is: schedulers, weight decay, clipping, AMP) is kept as each parameter's
update norm beside the record. Without `with`, pass `optimizer=`: the update is read after that
optimizer's next `step()` (a one-shot post-step hook).

Each record is one file, `step-{step:09d}.npz`, a saved trace (docs/trace-format.md) with `record.*` keys
besides: the step, the learning rate where the optimizer is known, each parameter's norm, gradient norm
and update norm. `rnntui run runs/exp1` and `rnntui.load_trace("runs/exp1")` open the folder as a
training run whose iterations are the records (engine/recorded.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rnntui.engine import keys
from rnntui.torch_bridge import FromTorchError, import_torch

PREFIX = "step-"


def record_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"{PREFIX}{int(step):09d}.npz"


class Recording:
    """One recorded iteration: its trace (`.trace`), written at once; the update added when it is known."""

    def __init__(self, module, trace, path: Path, optimizer=None):
        self.module, self.trace, self.path = module, trace, path
        self._names = dict(getattr(trace, "torch_names", {}))     # module name -> trace name
        self._before = {n: p.detach().to(dtype=p.dtype).clone() for n, p in module.named_parameters()}
        self._done = False
        self._hook = optimizer.register_step_post_hook(self._after_step) if optimizer is not None else None

    # the context-manager form: the update is what happened inside the block
    def __enter__(self) -> "Recording":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.finish()
        elif self._hook is not None:
            self._hook.remove()

    def _after_step(self, optimizer, args, kwargs) -> None:
        self.finish()

    def finish(self) -> None:
        """Read the parameters after the update and add each one's update norm to the record's file."""
        if self._done:
            return
        self._done = True
        if self._hook is not None:
            self._hook.remove()
        extra = {}
        for name, p in self.module.named_parameters():
            mapped = self._names.get(name)
            if mapped is None or name not in self._before:
                continue
            moved = (p.detach() - self._before[name]).double().reshape(-1)
            extra[f"record.update_norm.{mapped}"] = np.asarray(float(np.sqrt(np.dot(moved.numpy(), moved.numpy()))))
        _write(self.trace, self.path, extra)


def _write(trace, path: Path, extra: dict) -> None:
    from rnntui.engine.trace import Trace

    arrays = dict(trace._arrays)
    arrays.update(extra)
    Trace(arrays, trace.info, dict(trace._derived)).save(path, jacobian="auto")


def record(module, x, *args, target=None, loss: str = "sum", lengths=None, step: int, to, every: int = 1,
           optimizer=None, kwargs: dict | None = None, output: int = 0):
    """Record iteration *step* of the user's loop into folder *to* (see the module's notes). Returns a
    Recording (use it in a `with` block), or None on the steps `every` skips."""
    import_torch()
    from rnntui.torch_bridge.bridge import from_torch

    if not isinstance(step, (int, np.integer)) or isinstance(step, bool) or step < 0:
        raise FromTorchError(f"step: found {step!r}; expected the loop's step number, a whole number >= 0")
    if not isinstance(every, (int, np.integer)) or isinstance(every, bool) or every < 1:
        raise FromTorchError(f"every: found {every!r}; expected a whole number >= 1 (record every n-th step)")
    if step % every:
        return None
    folder = Path(to)
    if folder.exists() and not folder.is_dir():
        raise FromTorchError(f"to: {folder} exists and is not a folder; expected the folder the records go into")
    folder.mkdir(parents=True, exist_ok=True)
    trace = from_torch(module, x, *args, target=target, loss=loss, lengths=lengths, kwargs=kwargs, output=output)
    extra = {"record.step": np.asarray(int(step), dtype=np.int64)}
    if optimizer is not None:
        extra["record.lr"] = np.asarray(float(optimizer.param_groups[0]["lr"]))
    for key in trace:
        if key.startswith(keys.PARAM_PREFIX):
            name = key[len(keys.PARAM_PREFIX):]
            g = np.asarray(trace[keys.grad(key)], dtype=np.float64).ravel()
            p = np.asarray(trace[key], dtype=np.float64).ravel()
            extra[f"record.param_norm.{name}"] = np.asarray(float(np.sqrt(np.dot(p, p))))
            extra[f"record.gradnorm.{name}"] = np.asarray(float(np.sqrt(np.dot(g, g))))
    from rnntui.engine.trace import Trace

    kept = Trace({**trace._arrays, **extra}, trace.info, dict(trace._derived))
    kept.torch_names = getattr(trace, "torch_names", {})
    path = record_path(folder, step)
    _write(kept, path, {})
    return Recording(module, kept, path, optimizer)


__all__ = ["Recording", "record", "record_path"]
