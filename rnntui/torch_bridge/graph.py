"""Trace a module's forward with torch.fx, keeping the user's source line of every operation.

Leaves are the torch.nn modules rnntui has an entry for (and every other torch.nn module, so that one
rnntui cannot map is named as a module rather than traced into); the containers (nn.Sequential,
nn.ModuleList, nn.ModuleDict) are traced through to the modules inside them. `pack_padded_sequence`,
`pad_packed_sequence` and the tensor factories (`torch.zeros(x.size(0), H)`, which fx cannot follow
when a size is symbolic) are recorded as single calls instead of being traced into.
"""
from __future__ import annotations

import inspect
import os
import re
import traceback
from contextlib import contextmanager

from rnntui.torch_bridge import FromTorchError, import_torch

# a formatted frame: `File "f", line n, in name`, then its code unless there is none (python -c, a REPL)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([^\n]+)(?:\n(?!\s*File ")([^\n]*))?')


def _torch_dir() -> str:
    return os.path.dirname(import_torch().__file__) + os.sep


def where(node) -> str:
    """'file:line: `source`' of the user's code that made *node* (the innermost frame outside torch)."""
    text = node.stack_trace or node.meta.get("stack_trace") or ""
    frames = [f for f in _FRAME.findall(text) if not f[0].startswith(_torch_dir())]
    if not frames:
        return "(no source line recorded)"
    file, line, name, code = frames[-1]
    return _shown(file, line, name.strip(), code.strip())


def _shown(file, line, name: str, code: str) -> str:
    if code:
        return f"{file}:{line}: `{code}`"
    # python -c, a REPL's input or a lambda typed there: the line number is all there is
    return f"{file}:{line} ({'a lambda: ' if name == '<lambda>' else ''}no source line)"


def _frame_of(exc: BaseException) -> str:
    """'file:line: `source`' of the user's innermost frame in *exc*'s traceback."""
    torch_dir, here = _torch_dir(), os.path.dirname(__file__) + os.sep
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(here)]
    if not frames:
        return "(no source line)"
    f = frames[-1]
    return _shown(f.filename, f.lineno, f.name, (f.line or "").strip())


def _user_frames(summary):
    """The frames of the traced forward and what it calls, whatever the forward is named (fx keeps only
    those from a frame named `forward`, so a forward assigned as a lambda would get none): every frame
    after this module's `trace`, outside torch and outside this package."""
    torch_dir, here = _torch_dir(), os.path.dirname(__file__) + os.sep
    start = max((i + 1 for i, f in enumerate(summary) if f.filename == __file__ and f.name == "trace"), default=0)
    return [f for f in list(summary)[start:]
            if not f.filename.startswith(torch_dir) and not f.filename.startswith(here)]


# torch's factories take sizes; a size read from a traced tensor (x.size(0)) is an fx Proxy, which their
# argument parser does not dispatch on (`zeros() takes 1 positional argument but 2 were given`)
FACTORIES = ("zeros", "ones", "empty", "full", "rand", "randn", "randint", "arange")


@contextmanager
def calls_as_nodes(module):
    """Record pack_padded_sequence / pad_packed_sequence and torch's tensor factories as one node each,
    however the forward names them (a global imported from torch.nn.utils.rnn or torch, or the attribute
    through the module). Yields the original functions by name, which the graph's nodes then hold as their
    targets."""
    torch = import_torch()
    rnn_utils = torch.nn.utils.rnn
    homes = {name: rnn_utils for name in ("pack_padded_sequence", "pad_packed_sequence")} | \
        {name: torch for name in FACTORIES}
    originals = {name: getattr(home, name) for name, home in homes.items()}

    def wrap(fn):
        def call(*args, **kwargs):
            proxies = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.fx.Proxy)]
            if proxies:
                return proxies[0].tracer.create_proxy("call_function", fn, args, kwargs)
            return fn(*args, **kwargs)
        return call

    wrapped = {name: wrap(fn) for name, fn in originals.items()}
    by_function = {id(fn): name for name, fn in originals.items()}
    patched = [(vars(homes[name]), name, fn) for name, fn in originals.items()]
    for sub in module.modules():  # the forwards that imported the functions as globals
        globs = getattr(getattr(type(sub), "forward", None), "__globals__", {})
        for name, value in list(globs.items()):
            patched += [(globs, name, fn) for key, fn in originals.items() if value is fn]
    try:
        for globs, name, fn in patched:
            globs[name] = wrapped[by_function[id(fn)]]
        yield originals
    finally:
        for globs, name, fn in patched:
            globs[name] = fn


LOOPS = ("Python code that needs a tensor's values or size as a number (a loop, a branch, int(...)): rnntui maps a chain of torch.nn modules "
         "(see docs/debug-your-pytorch-model.md), not Python loops or branches over tensors, such as a custom cell "
         "stepping through time itself")


def _why(fx, exc: BaseException) -> str:
    """What stopped fx, in the user's terms. A traced value where Python needs a real one (range(x.size(1)),
    `if h.sum() > 0`, int(...)) is a loop or branch over a tensor; fx's own words for it (TraceError,
    "'Proxy' object cannot be interpreted as an integer") name its internals, so they are not repeated."""
    text = str(exc).splitlines()[0] if str(exc) else "no message"
    if isinstance(exc, fx.proxy.TraceError) or "Proxy" in text:
        return LOOPS
    return f"rnntui cannot follow this code ({type(exc).__name__}: {text}); {LOOPS}"


def is_tensors(value) -> bool:
    """A tensor, or a tuple or list holding only tensors (an LSTM's (h, c)): a placeholder of the trace."""
    torch = import_torch()
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and bool(value) and all(is_tensors(v) for v in value)


def trace(module, bound: dict):
    """The fx Graph of module.forward with the tensors of *bound* (the forward's parameter name -> the
    value from_torch was given: a tensor, or a tuple or list of them) as placeholders, its other given
    values (a number, `future=3`) as constants and the rest at their defaults; a forward fx cannot follow
    is refused at its line."""
    torch = import_torch()
    fx = torch.fx

    containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)

    class Leaves(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            # every torch.nn module but a container is a leaf: mapped in leaves.py, or refused by its name
            if type(m) in containers:
                return False
            return type(m).__module__.startswith("torch.nn") or super().is_leaf_module(m, qualname)

        def _filter_traceback_frames(self, summary):
            return traceback.StackSummary.from_list(_user_frames(summary))

    params = list(inspect.signature(module.forward).parameters.values())
    concrete = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if p.name in bound:
                raise FromTorchError(f"{type(module).__name__}.forward takes *{p.name}/**{p.name}; from_torch reads a "
                                     "forward whose arguments are named (def forward(self, x, hidden))")
            continue
        if p.name in bound:
            if not is_tensors(bound[p.name]):
                concrete[p.name] = bound[p.name]
            continue
        if p.default is p.empty:
            raise FromTorchError(f"{type(module).__name__}.forward needs `{p.name}`, which from_torch was not given "
                                 f"(pass it as the forward takes it: from_torch(model, x, {p.name}_value, ...) or "
                                 f"kwargs={{'{p.name}': ...}})")
        concrete[p.name] = p.default
    tracer = Leaves()
    tracer.record_stack_traces = True
    with calls_as_nodes(module) as originals:
        try:
            graph = tracer.trace(module, concrete_args=concrete or None)
        except FromTorchError:
            raise
        except Exception as exc:  # fx could not follow the Python code: name the line it stopped at
            raise FromTorchError(f"{_frame_of(exc)}: {type(module).__name__}.forward: {_why(fx, exc)}") from None
    for node in reversed(list(graph.nodes)):  # what nothing reads (`_` of `out, _ = rnn(x)`) is not the model
        if node.op not in ("placeholder", "output") and not node.users:
            graph.erase_node(node)
    return graph, originals


def shapes(module, graph, bound: dict) -> dict:
    """fx node -> the shape of the tensor it makes on the given inputs (torch.fx's ShapeProp: the forward run
    once, node by node); {} where it cannot run the graph (the reader then refuses what needs a shape)."""
    torch = import_torch()
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        gm = torch.fx.GraphModule(module, graph)
        values = [bound.get(str(n.target).lstrip("*")) for n in gm.graph.nodes if n.op == "placeholder"]
        with torch.no_grad():
            ShapeProp(gm).propagate(*values)
    except Exception:   # noqa: BLE001 - shapes are a help to the reader, never a requirement of the trace
        return {}
    out = {}
    for n, m in zip(graph.nodes, gm.graph.nodes):
        meta = m.meta.get("tensor_meta")
        if hasattr(meta, "shape"):
            out[n] = tuple(int(k) for k in meta.shape)
    return out
