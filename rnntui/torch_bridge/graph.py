"""Trace a module's forward with torch.fx, keeping the user's source line of every operation.

Leaves are the torch.nn modules rnntui has an entry for (and every other torch.nn module, so that one
rnntui cannot map is named as a module rather than traced into). `pack_padded_sequence` and
`pad_packed_sequence` are recorded as single calls instead of being traced into.
"""
from __future__ import annotations

import inspect
import os
import re
import traceback
from contextlib import contextmanager

from rnntui.torch_bridge import FromTorchError, import_torch

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([^\n]+)\n([^\n]*)')


def _torch_dir() -> str:
    return os.path.dirname(import_torch().__file__) + os.sep


def where(node) -> str:
    """'file:line: `source`' of the user's code that made *node* (the innermost frame outside torch)."""
    text = node.stack_trace or node.meta.get("stack_trace") or ""
    frames = [f for f in _FRAME.findall(text) if not f[0].startswith(_torch_dir())]
    if not frames:
        return "(no source line recorded)"
    file, line, _, code = frames[-1]
    return f"{file}:{line}: `{code.strip()}`"


def _frame_of(exc: BaseException) -> str:
    """'file:line: `source`' of the user's innermost frame in *exc*'s traceback."""
    torch_dir, here = _torch_dir(), os.path.dirname(__file__) + os.sep
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(here)]
    if not frames:
        return "(no source line)"
    f = frames[-1]
    return f"{f.filename}:{f.lineno}: `{(f.line or '').strip()}`"


@contextmanager
def packing_as_calls(module):
    """Record pack_padded_sequence / pad_packed_sequence as one node each, however the forward names them
    (a global imported from torch.nn.utils.rnn, or the attribute through torch.nn.utils.rnn). Yields the
    original functions by name, which the graph's nodes then hold as their targets."""
    torch = import_torch()
    rnn_utils = torch.nn.utils.rnn
    originals = {name: getattr(rnn_utils, name) for name in ("pack_padded_sequence", "pad_packed_sequence")}

    def wrap(fn):
        def call(*args, **kwargs):
            proxies = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.fx.Proxy)]
            if proxies:
                return proxies[0].tracer.create_proxy("call_function", fn, args, kwargs)
            return fn(*args, **kwargs)
        return call

    wrapped = {name: wrap(fn) for name, fn in originals.items()}
    patched = [(vars(rnn_utils), name, fn) for name, fn in originals.items()]
    for sub in module.modules():  # the forwards that imported the functions as globals
        globs = getattr(getattr(type(sub), "forward", None), "__globals__", {})
        for name, value in list(globs.items()):
            patched += [(globs, name, fn) for key, fn in originals.items() if value is fn]
    try:
        for globs, name, fn in patched:
            globs[name] = wrapped[fn.__name__]
        yield originals
    finally:
        for globs, name, fn in patched:
            globs[name] = fn


def trace(module, n_inputs: int):
    """The fx Graph of module.forward with its first *n_inputs* parameters as placeholders (the rest at
    their defaults); a forward fx cannot follow is refused at its line."""
    torch = import_torch()
    fx = torch.fx

    class Leaves(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            # every torch.nn module is a leaf: mapped in leaves.py, or refused by its name
            return type(m).__module__.startswith("torch.nn") or super().is_leaf_module(m, qualname)

    params = list(inspect.signature(module.forward).parameters.values())
    if len(params) < n_inputs:
        raise FromTorchError(f"{type(module).__name__}.forward takes {len(params)} argument(s); from_torch passes "
                             f"{n_inputs} (x{', lengths' if n_inputs > 1 else ''})")
    concrete = {}
    for p in params[n_inputs:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise FromTorchError(f"{type(module).__name__}.forward needs `{p.name}`, which from_torch does not give "
                                 "(it passes x, and lengths when they are given)")
        concrete[p.name] = p.default
    tracer = Leaves()
    tracer.record_stack_traces = True
    with packing_as_calls(module) as originals:
        try:
            graph = tracer.trace(module, concrete_args=concrete or None)
        except FromTorchError:
            raise
        except Exception as exc:  # fx could not follow the Python code: name the line it stopped at
            raise FromTorchError(
                f"{_frame_of(exc)}: rnntui cannot follow this code of {type(module).__name__}.forward "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}); "
                "rnntui maps a chain of torch.nn modules (recurrent, embedding, linear, conv, pooling, flatten, "
                "dropout, activations), not Python loops or branches over tensors (a custom cell with its own "
                "loop over the steps)") from None
    for node in reversed(list(graph.nodes)):  # what nothing reads (`_` of `out, _ = rnn(x)`) is not the model
        if node.op not in ("placeholder", "output") and not node.users:
            graph.erase_node(node)
    return graph, originals
