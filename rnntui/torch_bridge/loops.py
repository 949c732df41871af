"""A forward that steps through time itself, read by running it: the recorder and the loop it finds.

torch.fx cannot follow a Python loop over a tensor (`for input_t in input.split(1, dim=1)`), so such a
forward is run once on the user's arguments under a recorder: every torch function and method called by
the forward itself, and every call of a module (torch.nn's modules whole; a module of the user's own, a
custom cell, with what it does inside). The loop is then found in that record: a module called N times
(the anchor: nn.LSTMCell, or a cell of the user's own), each call reading what the call before made.
The events from one call to the next are one step; each step must be the same operations, reading:

- x's slice at that step (`input.split(1, dim=1)[t]`, `x[:, t]`, `x.select(1, t)`: checked by value),
- a value of the step before (a state: zero at the first step, `torch.zeros(...)`),
- from step `feed_after` on, instead of x, a value of the step before (generation: `for i in
  range(future)` feeding `output` back).

Before the loop, an embedding of an input and an encoder (stacked, bidirectional) are graph nodes (Before),
with its last layer's final state and joins of those (torch.cat, +, -, *): a step may read
the encoder's steps (an attention's keys, a module of Bahdanau's form checked by value) and a state may
start from its final state; an embedding of the input's step inside the loop (teacher forcing) is the
embedding of the whole input, which the recurrence reads.

What each step appends and forward joins after the loop (`torch.cat(outputs, dim=1)`,
`torch.stack(outputs, 1)`) is the recurrence's output; or forward computes from the last step's value
(`return self.fc(h)`: `op: last` and nodes after it). The scenario is one `recurrence` node
(docs/scenario-format.md) whose step graph is the step's operations. A branch on a tensor's value
(`if h.sum() > 0`, `int(x[0])`, `.item()`) is refused at its line: the graph would hold the branch this
input took, for every input.
"""
from __future__ import annotations

import dataclasses
import operator
import os
import re
import traceback
from dataclasses import dataclass, field

import numpy as np

from rnntui.engine import keys
from rnntui.torch_bridge import FromTorchError, import_torch

_CONTROL = ("__bool__", "item", "__int__", "__index__", "__float__", "tolist", "nonzero")


@dataclass
class Event:
    kind: str                # "fn" or "module"
    target: object           # the function, or the module's name
    args: tuple
    kwargs: dict
    out: object
    where: str
    module: object = None
    children: list = field(default_factory=list)   # a module of the user's own: what it did


def _user_line() -> str:
    torch_dir = os.path.dirname(import_torch().__file__) + os.sep
    here = os.path.dirname(__file__) + os.sep
    frames = [f for f in traceback.extract_stack()
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(here)
              and "contextlib" not in f.filename]
    if not frames:
        return "(no source line)"
    f = frames[-1]
    code = (f.line or "").strip()
    return f"{f.filename}:{f.lineno}: `{code}`" if code else f"{f.filename}:{f.lineno} (no source line)"


def _name(fn) -> str:
    name = getattr(fn, "__name__", None) or repr(fn)
    return {"__getitem__": "indexing `[...]`", "__add__": "`+`", "__mul__": "`*`", "__sub__": "`-`"}.get(name, name)


def record(module, args: tuple, kwargs: dict):
    """Run module(*args, **kwargs) once, recording (see the module's notes). Returns (events, output)."""
    torch = import_torch()
    from torch.overrides import TorchFunctionMode

    containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)
    stack: list[list] = [[]]    # the events of the module running now (its children)
    depth = [0]                 # > 0 inside a torch.nn module: nothing recorded there
    keep: list = []             # every tensor seen, alive, so that no id() is reused

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if depth[0] == 0 and getattr(func, "__name__", "") in _CONTROL:
                raise FromTorchError(f"{_user_line()}: Tensor.{func.__name__}(): a Python branch or number on a "
                                     "tensor's value: rnntui's graph is the same for every input, and this one "
                                     "would hold only the branch this input took; compute both sides and "
                                     "select with torch.where(cond, a, b), or loop over a fixed number of steps "
                                     "(range(x.size(1)), future=3)")
            out = func(*args, **kwargs)
            if depth[0] == 0 and getattr(func, "__name__", "") != "__get__":   # not a property (x.shape)
                stack[-1].append(Event("fn", func, args, kwargs, out, _user_line()))
                keep.append((args, kwargs, out))
            return out

    def leaf(m) -> bool:
        return type(m).__module__.startswith("torch.nn") and type(m) not in containers

    names = {m: n for n, m in module.named_modules()}
    handles = []

    def pre(m, a, kw):
        if depth[0] == 0 and not leaf(m):
            stack.append([])
        if leaf(m):
            depth[0] += 1

    def post(m, a, kw, out):
        if leaf(m):
            depth[0] -= 1
            if depth[0] == 0:
                stack[-1].append(Event("module", names.get(m, "?"), a, kw, out, _user_line(), m))
        elif depth[0] == 0:
            children = stack.pop()
            if m is not module:
                stack[-1].append(Event("module", names.get(m, "?"), a, kw, out, _user_line(), m, children))
            else:
                stack[-1].extend(children)
        keep.append((a, kw, out))

    for m in module.modules():
        handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(m.register_forward_hook(post, with_kwargs=True))
    try:
        with torch.no_grad(), Mode():
            out = module(*args, **kwargs)
    except FromTorchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the module fails on its own arguments: the user's to fix
        from rnntui.torch_bridge.graph import _frame_of
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        raise FromTorchError(f"{_frame_of(exc)}: {type(module).__qualname__} fails on these arguments itself "
                             f"({type(exc).__name__}: {first}); from_torch runs it to read its loop") from None
    finally:
        for h in handles:
            h.remove()
    return stack[0], out, keep


# --- reading values ---------------------------------------------------------------------------------
def _tensors(obj, path=()):
    """(path, tensor) of every tensor in *obj* (nested tuples and lists)."""
    torch = import_torch()
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif isinstance(obj, (tuple, list)):
        for k, v in enumerate(obj):
            yield from _tensors(v, path + (k,))


class Loop:
    """The loop found in a record: its anchor calls and the step's events."""

    def __init__(self, module, events, x, time_axis_hint=None):
        self.torch = import_torch()
        self.module, self.events, self.x = module, events, x
        self.made: dict[int, tuple[int, tuple]] = {}   # id(tensor) -> (event index, path)
        for i, e in enumerate(events):
            for path, t in _tensors(e.out):
                self.made.setdefault(id(t), (i, path))

    def refuse(self, e: Event | None, why: str):
        raise FromTorchError((f"{e.where}: " if e is not None else "") + why)

    def find(self):
        """(start, period, count) of the repeated steps: anchored at the first module called more than once."""
        calls: dict[str, list[int]] = {}
        for i, e in enumerate(self.events):
            if e.kind == "module":
                calls.setdefault(e.target, []).append(i)
        anchor = next((n for n, ix in calls.items() if len(ix) > 1), None)
        if anchor is None:
            return None
        ix = calls[anchor]
        # calls before the loop (h = self.ih(x[:, 0]), then the loop) are left out: the loop is the regular run
        while len(ix) > 2 and len({b - a for a, b in zip(ix, ix[1:])}) > 1:
            ix = ix[1:]
        period = ix[1] - ix[0]
        if any(b - a != period for a, b in zip(ix, ix[1:])):
            self.refuse(self.events[ix[1]], f"self.{anchor} is called at steps of different lengths; rnntui reads a "
                        "loop whose steps run the same operations")
        start = ix[0]
        while start > 0 and all(self.same(self.events[start - 1], self.events[start - 1 + k * period])
                                for k in range(1, len(ix))) and ix[0] - start + 1 < period:
            start -= 1
        return start, period, len(ix), anchor

    def same(self, a: Event, b: Event) -> bool:
        if a.kind != b.kind or a.target != b.target:
            return False
        if a.kind == "module":
            return True
        return len(a.args) == len(b.args)


def _is_additive(m) -> bool:
    """A module of Bahdanau's form, as PyTorch's seq2seq tutorial writes it: nn.Linear Wa, Ua and Va (to one
    score); what it computes is checked by value where it is called (StepGraph.attention)."""
    nn = import_torch().nn
    parts = [getattr(m, n, None) for n in ("Wa", "Ua", "Va")]
    return all(isinstance(p, nn.Linear) for p in parts) and parts[2].out_features == 1


def flatten(events: list) -> list:
    """A module of the user's own (a custom cell) replaced by what it did: its torch.nn modules and
    torch functions, in order; the tensors it returns are the ones those made."""
    out = []
    for e in events:
        if e.kind == "module" and e.module is not None and not type(e.module).__module__.startswith("torch.nn") \
                and not _is_additive(e.module):
            out.extend(flatten(e.children))
        else:
            out.append(e)
    return out


_ARITH = {"__add__": "add", "__radd__": "add", "__iadd__": "add", "add": "add", "__sub__": "sub", "sub": "sub",
          "__isub__": "sub", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul", "mul": "mul"}
_UNARY = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu", "exp": "exp", "log": "log", "neg": "neg",
          "__neg__": "neg", "abs": "abs", "sqrt": "sqrt"}


def _cells() -> dict:
    """rnntui's cells (engine/ops/cells.py, one per recurrent family) by the name of PyTorch's class (LSTMCell)."""
    from rnntui.engine.ops.cells import CELLS

    return {c.title: c for c in CELLS}


_CELLS = _cells()
_ACTS = {"Tanh": "tanh", "Sigmoid": "sigmoid", "ReLU": "relu"}


def _ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s and not s[0].isdigit() else "m_" + s


class StepReader:
    """The step graph of a loop (see the module's notes), with its states, what it emits and feeds."""

    def __init__(self, module, events, x, start: int, period: int, count: int, inputs: dict | None = None,
                 outer: dict | None = None):
        self.torch = import_torch()
        self.module, self.ev, self.x = module, events, x
        self.inputs = inputs or {"input": x}   # the tensors a step may read a slice of, by name
        self.x_name: str | None = None
        self.outer = outer or {}               # id(tensor) made before the loop -> its node
        self.hoisted: dict[int, object] = {}   # step events that embed x's step: the embedding of the whole input
        self.start, self.L, self.N = start, period, count
        self.made: dict[int, tuple[int, tuple]] = {}
        for i, e in enumerate(events):
            for path, t in _tensors(e.out):
                self.made.setdefault(id(t), (i, path))
        self.axis: int | None = None   # x's time axis
        self.slicers: set[int] = set()   # step events that only slice x

    def refuse(self, e, why: str):
        raise FromTorchError((f"{e.where}: {_name(e.target) if e.kind == 'fn' else 'self.' + str(e.target)}: "
                              if e is not None else "") + why)

    def step_of(self, i: int) -> int | None:
        if self.start <= i < self.start + self.L * self.N:
            return (i - self.start) // self.L
        return None

    def is_x(self, t, k: int) -> bool:
        """Whether *t* is step k of an input (x, or another tensor given to forward): its slice along the time
        axis, by value; the first found fixes which input and axis the loop steps over."""
        torch = self.torch
        if not isinstance(t, torch.Tensor):
            return False
        names = [self.x_name] if self.x_name is not None else list(self.inputs)
        for name in names:
            x = self.inputs[name]
            if t.dtype != x.dtype:
                continue
            axes = [self.axis] if self.axis is not None else [1, 0]
            for ax in axes:
                if ax >= x.ndim or k >= x.shape[ax]:
                    continue
                sl = x.select(ax, k)
                if sl.numel() == t.numel() and t.shape[0] == sl.shape[0] and torch.equal(sl.reshape(t.shape), t):
                    self.axis, self.x_name, self.x = ax, name, x
                    return True
        return False

    def classify(self, t, k: int, e):
        """What a tensor read at step k is: ("node", j, path) of this step, ("prev", j, path) of the step before,
        ("x",), ("zero",) or ("param",)."""
        torch = self.torch
        where = self.made.get(id(t))
        if where is not None:
            i, path = where
            s = self.step_of(i)
            if s == k and (i - self.start) % self.L in self.hoisted:
                return ("x",)   # the embedding of x's step: the recurrence reads the embedded input
            if s == k and (i - self.start) % self.L not in self.slicers:
                return ("node", (i - self.start) % self.L, path)
            if s == k - 1 and s is not None:
                return ("prev", (i - self.start) % self.L, path)
        if self.is_x(t, k):
            return ("x",)
        if id(t) in self.outer:
            return ("outer", self.outer[id(t)])
        if (where is None or self.step_of(where[0]) is None) and not t.requires_grad and not bool(t.any()):
            return ("zero",)
        if isinstance(t, torch.nn.Parameter):
            self.refuse(e, "reads a parameter directly; rnntui maps parameters of the torch.nn modules it calls")
        self.refuse(e, "reads a value made outside the loop other than x and zeros (an encoder's output, a given "
                    "state); rnntui's loops read x, their own states and zero starts for now")

    def reads(self, e: Event, k: int) -> list:
        out = []
        for path, t in _tensors((e.args, e.kwargs.get("hx"))):
            out.append((path, self.classify(t, k, e)))
        return out

    def read(self):
        torch = self.torch
        steps = []
        for k in range(self.N):
            base = self.start + k * self.L
            rows = []
            for j in range(self.L):
                e = self.ev[base + j]
                if e.kind == "fn" and not list(_tensors(e.out)):
                    rows.append(None)   # a size or a shape: nothing of the graph
                    continue
                if k == 0 and all(self.is_x(t, 0) for _, t in _tensors(e.out)) and list(_tensors(e.out)):
                    self.slicers.add(j)
                if j in self.slicers:
                    if not all(self.is_x(t, k) for _, t in _tensors(e.out)):
                        self.refuse(e, f"at step {k} does not read x's step {k}; rnntui reads x one step at a time")
                    rows.append(None)
                    continue
                if k == 0 and e.kind == "module" and type(e.module).__name__ == "Embedding" and self.x_name and \
                        not self.x.dtype.is_floating_point and all(c == ("x",) for _, c in self.reads(e, 0)) and \
                        all(self.is_x(t, s) for s in range(self.N)
                            for _, t in _tensors(self.ev[self.start + s * self.L + j].args)):
                    self.hoisted[j] = e   # teacher forcing: self.emb(tgt[:, t]) is step t of the embedded tgt
                if j in self.hoisted:
                    rows.append(None)
                    continue
                rows.append(self.reads(e, k))
            steps.append(rows)
        # every step the same reads; where step 0 reads zeros the others read the step before (a state);
        # where x is read until some step and a value of the step before after it, that value is fed
        states, feed, feed_after = {}, None, None
        ref = steps[1] if self.N > 1 else steps[0]
        for j in range(self.L):
            if steps[0][j] is None:
                continue
            e = self.ev[self.start + j]
            for slot, (path, c0) in enumerate(steps[0][j]):
                later = [steps[k][j][slot][1] for k in range(1, self.N)]
                if c0[0] in ("zero", "outer") and later and later[0][0] == "prev":
                    if any(c != later[0] for c in later):
                        self.refuse(e, "reads at the first step a start and later something else than the step "
                                    "before's value")
                    key = (later[0][1], later[0][2])
                    start = None if c0[0] == "zero" else c0[1]
                    if states.get(key, start) != start:
                        self.refuse(e, "reads one state from two starts")
                    states[key] = start
                elif c0[0] == "x":
                    fed = [k for k, c in enumerate(later, start=1) if c[0] != "x"]
                    if fed:
                        f0 = fed[0]
                        if fed != list(range(f0, self.N)) or any(later[k - 1] != later[f0 - 1] or later[k - 1][0] != "prev"
                                                                 for k in fed):
                            self.refuse(e, "reads x at some steps and other values at others; rnntui feeds a step's "
                                        "value back as x from one step on (generation)")
                        if feed is not None and feed != (later[f0 - 1][1], later[f0 - 1][2], f0):
                            self.refuse(e, "feeds two values back; rnntui feeds one")
                        feed = (later[f0 - 1][1], later[f0 - 1][2], f0)
                else:
                    if any(c != c0 for c in later):
                        self.refuse(e, f"reads at step 0 {c0[0]} and at later steps other values; rnntui's steps "
                                    "run the same operations on the same values")
        self.steps, self.states, self.feed = steps, list(states), feed
        self.starts = {key: v for key, v in states.items() if v is not None}   # state -> the outer node it starts from
        return self


class Before:
    """What forward does before its loop, as graph nodes: nn.Embedding of an input's ids, a recurrent module
    over it (an encoder: its every-step output, the keys of an attention), its last layer's final state h_n[-1]
    (`op: last`; of a bidirectional one h_n[-2] and h_n[-1], halves of its last and first steps: checked by
    value), and torch.cat, +, -, * of those. Factories (zeros) and x's slicing
    are no nodes: a step reads them as zero starts and x."""

    def __init__(self, events: list, inputs: dict):
        self.torch = import_torch()
        self.nodes, self.comments, self.params, self.torch_names = [], [], {}, {}
        self.outer: dict[int, str] = {}        # id(tensor) -> node id
        self.seq: dict[str, object] = {}       # node id -> its every-step output (batch first or not), to check
        self.finals: dict[int, tuple] = {}     # id(h_n) -> (node id, module)
        self.cells: dict[int, str] = {}        # id(c_n) of an LSTM encoder -> its module's name (no node)
        self.inputs = {id(t): name for name, t in inputs.items()}
        for e in events:
            self.event(e)

    def ref(self, t, e) -> str:
        if id(t) in self.outer:
            return self.outer[id(t)]
        if id(t) in self.inputs:
            return self.inputs[id(t)]
        raise FromTorchError(f"{e.where}: before the loop, reads a value rnntui did not map there")

    def event(self, e):
        from rnntui.torch_bridge.leaves import embedding, recurrent

        torch = self.torch
        if e.kind == "fn":
            name = getattr(e.target, "__name__", "")
            ins = [t for _, t in _tensors((e.args, e.kwargs))]
            if ins and id(ins[0]) in self.cells:
                raise FromTorchError(f"{e.where}: {_name(e.target)} of c_n, the final cell state of self."
                                     f"{self.cells[id(ins[0])]}: rnntui's encoder node gives every step's h (h_n[-1] is "
                                     "its last step) but not its cell state, so a state cannot start from it yet; a "
                                     "decoder cell whose c starts at zeros (torch.zeros_like(h)) maps")
            if name in ("__getitem__", "squeeze", "select") and ins and id(ins[0]) in self.finals:
                self.final_state(e, *self.finals[id(ins[0])])
                return
            if name in ("cat", "concat", "add", "__add__", "sub", "__sub__", "mul", "__mul__") and len(ins) >= 2 \
                    and all(id(t) in self.outer for t in ins):
                self.join(e, name.strip("_"), ins)
                return
            if not list(_tensors(e.out)) or all(id(t) in self.inputs for t in ins) or not ins or \
                    name in ("zeros_like", "new_zeros"):
                return   # sizes, x's slices, zeros: what the loop reads of them is checked there
            raise FromTorchError(f"{e.where}: {_name(e.target)} before the loop: rnntui maps there an embedding, a "
                                 "recurrent encoder, its last layer's final state (h_n[-1]; h_n[-2] too of a "
                                 "bidirectional one) and torch.cat, +, -, * of those")
        m, cls = e.module, type(e.module).__name__
        nid = _ident(str(e.target))
        ins = [t for _, t in _tensors(e.args)]
        if cls == "Embedding":
            entry = embedding(m)
            cfg = {"id": nid, **entry.config, "from": self.ref(ins[0], e)}
        elif isinstance(m, torch.nn.RNNBase):
            if len(ins) != 1:
                raise FromTorchError(f"{e.where}: nn.{cls} (self.{e.target}) before the loop with a given state; "
                                     "rnntui's encoder starts from zeros")
            entry = recurrent(m)
            cfg = {"id": nid, **entry.config, "from": self.ref(ins[0], e)}
            out, h_n = e.out
            if isinstance(h_n, (tuple, list)):   # an LSTM's (h_n, c_n): its h_n read (c_n has no node)
                self.cells[id(h_n[1])] = str(e.target)
                h_n = h_n[0]
            self.finals[id(h_n)] = (nid, m, out)
            self.outer[id(out)] = nid
        else:
            raise FromTorchError(f"{e.where}: nn.{cls} (self.{e.target}) before the loop: rnntui maps an embedding "
                                 "and a recurrent encoder there")
        for pname, value in entry.params.items():
            self.params[("top", nid, pname)] = value
            if pname in entry.torch_params:
                self.torch_names[f"{e.target}.{pname}"] = ("top", nid, pname)
        self.nodes.append(cfg)
        self.comments.append(f"self.{e.target} (nn.{cls})")
        if cls == "Embedding":
            self.outer[id(e.out)] = nid


    def add_node(self, cfg: dict, comment: str) -> str:
        if cfg["id"] not in [n["id"] for n in self.nodes]:
            self.nodes.append(cfg)
            self.comments.append(comment)
        return cfg["id"]

    def final_state(self, e, node: str, m, out):
        """h_n[k] (h_n.squeeze(0), h_n.select(0, k)) of an encoder before the loop, as nodes over its every-step
        output, checked by value: the last layer's final state (h_n[-1]) is its last step; of a bidirectional
        module, h_n[-2] is the forward half of the last step and h_n[-1] the backward half of the first."""
        torch = self.torch
        seq = out if m.batch_first else out.transpose(0, 1)    # (batch, time, directions x hidden)
        H = m.hidden_size
        said = f"{_name(e.target)} of self.{node}'s h_n"
        if not m.bidirectional:
            options = [({"id": f"{node}_last", "op": "last", "from": node}, None, seq[:, -1], "its last step")]
        else:
            options = [({"id": f"{node}_last", "op": "last", "from": node}, (0, H), seq[:, -1, :H],
                        "the forward direction's half of its last step (h_n[-2])"),
                       ({"id": f"{node}_first", "op": "index", "dim": 0, "at": 0, "from": node}, (H, 2 * H),
                        seq[:, 0, H:], "the backward direction's half of its first step (h_n[-1])")]
        for cfg, half, value, words in options:
            if e.out.shape == value.shape and torch.equal(e.out, value):
                nid = self.add_node(cfg, f"{said}: {words}")
                if half is not None:
                    nid = self.add_node({"id": f"{cfg['id']}_{'fwd' if half[0] == 0 else 'bwd'}", "op": "slice",
                                         "dim": -1, "start": half[0], "stop": half[1], "from": nid},
                                        f"{said}: {words}")
                self.outer[id(e.out)] = nid
                return
        last = "h_n[-2] and h_n[-1] (torch.cat([h_n[-2], h_n[-1]], dim=1))" if m.bidirectional else "h_n[-1]"
        raise FromTorchError(f"{e.where}: {_name(e.target)} of h_n: this is not the last layer's final state; rnntui "
                             f"reads an encoder's last layer before a loop: {last}")

    def join(self, e, name: str, ins):
        """torch.cat([a, b], dim=-1), a + b, a - b, a * b of values mapped before the loop (an encoder's two
        final directions joined or summed): an op node."""
        refs = [self.outer[id(t)] for t in ins]
        if name in ("cat", "concat"):
            dim = e.kwargs.get("dim", e.args[1] if len(e.args) > 1 else 0)
            if not isinstance(dim, int) or dim % e.out.ndim != e.out.ndim - 1 or \
                    any(t.shape[:-1] != ins[0].shape[:-1] for t in ins):
                raise FromTorchError(f"{e.where}: {_name(e.target)} before the loop: rnntui joins values on their "
                                     "last axis there (torch.cat([h_n[-2], h_n[-1]], dim=1))")
            cfg = {"op": "cat", "dim": -1}
        else:
            if len(ins) != 2 or ins[0].shape != ins[1].shape:
                raise FromTorchError(f"{e.where}: {_name(e.target)} before the loop: rnntui's {name} reads two "
                                     "values of one shape there")
            cfg = {"op": name}
        nid = f"{refs[0]}_{name}"
        k = 1
        while nid in [n["id"] for n in self.nodes]:
            k += 1
            nid = f"{refs[0]}_{name}{k}"
        self.add_node({"id": nid, **cfg, "from": refs}, f"{_name(e.target)} before the loop")
        self.outer[id(e.out)] = nid


def _arr(t) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


class StepGraph:
    """The recurrence node's keys (state, step, next, emit, feed) and its parameters, from a read loop."""

    def __init__(self, r: StepReader):
        self.r, self.torch = r, r.torch
        self.ids: dict[int, str] = {}
        self.nodes: list[dict] = []
        self.comments: list[str] = []
        self.params: dict[str, np.ndarray] = {}
        self.torch_names: dict[str, str] = {}
        self.parts: dict[tuple, str] = {}
        self.state_names = {}
        for n, (j, path) in enumerate(r.states):   # h_{cell} and c_{cell} for a cell's two, else h (h1, h2, ...)
            e = r.ev[r.start + j]
            cell = _CELLS.get(type(e.module).__name__) if e.kind == "module" else None
            if cell is not None:   # the cell's state at that place of its result: (h', c') or h'
                name = f"{cell.states[path[0]] if path else 'h'}_{_ident(str(e.target))}"
            else:
                name = "h" if len(r.states) == 1 else f"h{n + 1}"
            self.state_names[(j, path)] = name if name not in self.state_names.values() else f"{name}_{n}"
        self.alias: dict[int, str] = {}   # an event that passes its input through (dropout in eval)

    def ref(self, c, e) -> str:
        kind = c[0]
        if kind == "x":
            return "x"
        if kind == "prev":
            if (c[1], c[2]) in self.state_names:
                return self.state_names[(c[1], c[2])]
            if self.r.feed is not None and (c[1], c[2]) == self.r.feed[:2]:
                return "x"   # the value fed back is what the step reads as x
            self.r.refuse(e, "reads a value of the step before that is not a state")
        if kind == "node":
            j, path = c[1], c[2]
            return self.value_ref(j, path, e)
        if kind == "outer":
            return c[1]
        self.r.refuse(e, "reads zeros after the first step")

    def value_ref(self, j: int, path: tuple, e) -> str:
        if j in self.alias:
            return self.alias[j]
        base = self.ids[j]
        ev = self.r.ev[self.r.start + j]
        if path == ():
            return base
        cell = _CELLS.get(type(ev.module).__name__) if ev.kind == "module" else None
        if cell is not None and len(cell.states) > 1 and len(path) == 1 and path[0] < len(cell.states):
            return base if path == (0,) else f"{base}.{cell.states[path[0]]}"   # (h', c'): h' is the node, c' its extra
        if ev.kind == "module" and _is_additive(ev.module) and path == (0,):
            return base   # the context; the weights are recorded by the node (model.{i}.{id}.weights)
        if (j, path) in self.parts:
            return self.parts[(j, path)]
        self.r.refuse(e, f"reads part {path} of {ev.target if ev.kind == 'module' else _name(ev.target)}'s result; "
                      "rnntui reads the parts of chunk and split")

    def new_id(self, base: str) -> str:
        taken = set(self.ids.values()) | {n["id"] for n in self.nodes} | {"x"} | set(self.state_names.values())
        name, n = _ident(base), 1
        while name in taken:
            n += 1
            name = f"{_ident(base)}{n}"
        return name

    def build(self, index: int):
        r = self.r
        for j in range(r.L):
            reads = r.steps[0][j]
            if reads is None:
                continue
            e = r.ev[r.start + j]
            # step 0's reads of a state are zeros; the node reads the state itself (as at every later step)
            later = r.steps[1][j] if r.N > 1 else reads
            use = [(p, c1 if c0[0] in ("zero", "outer") and c1[0] == "prev" else c0)
                   for (p, c0), (_, c1) in zip(reads, later)]
            refs = [self.ref(c, e) for _, c in use]
            if e.kind == "module":
                self.module_node(j, e, refs, index)
            else:
                self.fn_node(j, e, refs, use)
        return self

    def module_node(self, j, e, refs, index):
        m = e.module
        cls = type(m).__name__
        node_id = self.new_id(str(e.target))
        if cls in _CELLS:
            cell = _CELLS[cls]
            if len(refs) != 1 + len(cell.states):
                self.r.refuse(e, "called without its state; rnntui's cells read the state the step before made "
                              "(self.cell(x, (h, c)), zeros at the first step)")
            cfg = {"id": node_id, "type": cell.type, "hidden_size": m.hidden_size, "from": refs}
            for f in dataclasses.fields(cell.Config):   # the cell's own keys (nn.RNNCell's nonlinearity)
                if f.name not in cfg and hasattr(m, f.name):
                    cfg[f.name] = getattr(m, f.name)
            shapes = cell.family.param_shapes(m.hidden_size, m.input_size)
            for n, shape in shapes.items():
                p = getattr(m, n)
                value = _arr(p) if p is not None else np.zeros(shape)   # bias=False: held at zero
                self.param(node_id, n, value, e.target if p is not None else None, index)
        elif cls == "Linear":
            cfg = {"id": node_id, "type": "dense", "units": m.out_features, "from": refs[0]}
            self.param(node_id, "weight", _arr(m.weight), e.target, index)
            self.param(node_id, "bias", _arr(m.bias) if m.bias is not None else np.zeros(m.out_features),
                       e.target if m.bias is not None else None, index)
        elif cls in _ACTS:
            cfg = {"id": node_id, "op": _ACTS[cls], "from": refs[0]}
        elif cls in ("Dropout", "Identity"):
            self.alias[j] = refs[0]
            return
        elif _is_additive(m):
            cfg = self.attention(e, node_id, refs, index)
        elif cls == "Embedding":
            cfg = self.embedding(e, node_id, refs, index)
        else:
            self.r.refuse(e, f"nn.{cls} inside a loop: rnntui's step graphs take nn.LSTMCell, nn.GRUCell, nn.RNNCell, "
                          "nn.Linear, nn.Embedding, activations and dropout, and the functions listed in "
                          "docs/debug-your-pytorch-model.md")
        self.ids[j] = node_id
        self.nodes.append(cfg)
        self.comments.append(f"self.{e.target} ({cls}: additive attention)" if cfg.get("type") == "attention"
                             else f"self.{e.target} (nn.{cls})")

    def embedding(self, e, node_id, refs, index) -> dict:
        """nn.Embedding of the step's token id inside the loop: the input's step at the first steps, then the id the
        step before chose and fed back (greedy decoding: `tok = out.argmax(-1)`); a step node reading x."""
        from rnntui.torch_bridge.leaves import Refused, embedding

        ids = [t for _, t in _tensors(e.args)]
        if refs != ["x"] or len(ids) != 1 or ids[0].ndim != 1:
            self.r.refuse(e, "nn.Embedding inside a loop reads the step's token ids, one per sample (batch,): the "
                          "input's step (x[:, t]) or the id the step before chose and fed back (tok = "
                          "out.argmax(-1)); here it reads " + (f"{tuple(ids[0].shape)} ids" if len(ids) == 1 and
                                                               refs == ["x"] else "another value"))
        try:
            entry = embedding(e.module)
        except Refused as exc:
            self.r.refuse(e, str(exc))
        for pname, value in entry.params.items():
            self.param(node_id, pname, value, e.target if pname in entry.torch_params else None, index)
        return {"id": node_id, **entry.config, "from": "x"}

    def attention(self, e, node_id, refs, index) -> dict:
        """A module of Bahdanau's form called with (query (B, H), keys (B, S, H) batch first): rnntui's additive
        attention, if it computes the same context on the recorded values (else refused: it is something else)."""
        torch, m = self.torch, e.module
        tensors = [t for _, t in _tensors(e.args)]
        if len(tensors) != 2 or len(refs) != 2:
            self.r.refuse(e, "called with other than (query, keys); rnntui's additive attention reads those two")
        q, keys = tensors
        with torch.no_grad():
            score = m.Va(torch.tanh(m.Wa(q.reshape(q.shape[0], -1))[:, None] + m.Ua(keys)))[..., 0]
            ctx = (torch.softmax(score, dim=1)[..., None] * keys).sum(1)
        got = e.out[0] if isinstance(e.out, (tuple, list)) else e.out
        if q.ndim != 2 or keys.ndim != 3 or got.numel() != ctx.numel() or \
                not torch.allclose(got.reshape(ctx.shape), ctx, rtol=1e-5, atol=1e-7):
            self.r.refuse(e, "has nn.Linear Wa, Ua and Va but does not compute additive attention of a (batch, "
                          "hidden) query over (batch, steps, hidden) keys, context = Σ softmax(Va tanh(Wa q + Ua k)) k")
        for part in ("Wa", "Ua", "Va"):
            lin = getattr(m, part)
            self.param(node_id, f"{part}.weight", _arr(lin.weight), e.target, index)
            bias = lin.bias if lin.bias is not None else None
            self.param(node_id, f"{part}.bias", _arr(bias) if bias is not None else np.zeros(lin.out_features),
                       e.target if bias is not None else None, index)
        return {"id": node_id, "type": "attention", "kind": "additive", "size": m.Wa.out_features, "from": refs}

    def param(self, node_id, name, value, module_name, index):
        """A parameter of a step node (*index* not None: it belongs to the recurrence, {loop}.{step id}.name) or
        of a node after the loop ({node}.name); the keys are made once the nodes are numbered (build)."""
        key = ("step" if index is not None else "top", node_id, name)
        self.params[key] = value
        if module_name is not None:
            self.torch_names.setdefault(f"{module_name}.{name}", key)

    def _fed_from(self) -> int | None:
        """The step event whose value is fed back, through `.detach()` of an id (the step's argmax)."""
        if self.r.feed is None or self.r.feed[1] != ():
            return None
        j = self.r.feed[0]
        while True:
            ev = self.r.ev[self.r.start + j]
            src = self.r.made.get(id(ev.args[0])) if ev.kind == "fn" and ev.args else None
            if getattr(ev.target, "__name__", "") != "detach" or src is None or src[1] != ():
                return j
            j = (src[0] - self.r.start) % self.r.L

    def fn_node(self, j, e, refs, use):
        name = getattr(e.target, "__name__", "")
        node_id = self.new_id(name.strip("_") or "op")
        if name == "detach" and e.args and isinstance(e.args[0], self.torch.Tensor) and \
                not e.args[0].dtype.is_floating_point:
            self.alias[j] = refs[0]   # ids carry no gradient: detaching them changes nothing
            return
        numbers = [a for a in e.args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        if name in _ARITH:
            op = _ARITH[name]
            if name.startswith("__r") and op == "sub":
                self.r.refuse(e, "a number minus a tensor; write the tensor first")
            cfg = {"id": node_id, "op": op, "from": refs if len(refs) == 2 else refs[0]}
            if len(refs) == 1:
                if len(numbers) != 1:
                    self.r.refuse(e, f"rnntui's {op} reads two tensors or a tensor and a number")
                cfg["value"] = float(numbers[0])
        elif name in _UNARY:
            cfg = {"id": node_id, "op": _UNARY[name], "from": refs[0]}
        elif name in ("cat", "concat", "stack"):
            dim = e.kwargs.get("dim", e.args[1] if len(e.args) > 1 else 0)
            cfg = {"id": node_id, "op": "stack" if name == "stack" else "cat", "dim": int(dim), "from": refs}
        elif name in ("softmax", "log_softmax"):
            dim = e.kwargs.get("dim", e.args[1] if len(e.args) > 1 else None)
            cfg = {"id": node_id, "op": name, "dim": int(dim), "from": refs[0]}
        elif name == "argmax":
            dim = e.kwargs.get("dim", e.args[1] if len(e.args) > 1 else None)
            if dim is None:
                self.r.refuse(e, "argmax without dim: it picks over every number of the batch; write x.argmax(-1), "
                              "one id per sample")
            keep = bool(e.kwargs.get("keepdim", e.args[2] if len(e.args) > 2 else False))
            fed = self._fed_from() == j
            # a fed id is the next step's x, one id per sample held as (batch, 1): keepdim
            cfg = {"id": node_id, "op": "argmax", "dim": int(dim), "keepdim": keep or fed, "from": refs[0]}
            if fed and not keep and int(dim) % e.args[0].ndim != e.args[0].ndim - 1:
                self.r.refuse(e, "argmax fed back over another axis than the last: rnntui feeds one id per sample, "
                              "chosen over the scores' last axis (out.argmax(-1))")
        elif name in ("chunk", "split"):
            size = e.kwargs.get("chunks", e.kwargs.get("split_size_or_sections", e.args[1] if len(e.args) > 1 else None))
            dim = int(e.kwargs.get("dim", e.args[2] if len(e.args) > 2 else 0))
            n = len(e.out)
            for p in range(n):
                pid = self.new_id(f"{node_id}_{p}")
                key = "chunks" if name == "chunk" else "split_size"
                self.nodes.append({"id": pid, "op": name, key: int(size), "part": p, "dim": dim, "from": refs[0]})
                self.comments.append(f"{_name(e.target)} part {p}")
                self.parts[(j, (p,))] = pid
            self.ids[j] = node_id
            return
        else:
            self.r.refuse(e, f"{_name(e.target)} inside a loop has no rnntui op; rnntui's step graphs take +, -, *, "
                          "tanh, sigmoid, relu, exp, log, torch.cat, torch.stack, chunk, split, softmax, "
                          "log_softmax, argmax and the modules nn.LSTMCell, nn.GRUCell, nn.RNNCell, nn.Linear, "
                          "nn.Embedding")
        self.ids[j] = node_id
        self.nodes.append(cfg)
        self.comments.append(f"{_name(e.target)} ({e.where.split(': ', 1)[0].rsplit(os.sep, 1)[-1]})")


def _join(r: StepReader, events: list, out):
    """The event after the loop that joins what each step appended (torch.cat / torch.stack), its step value
    (j, path) and how its result maps to rnntui's (T, B, F)."""
    after = events[r.start + r.L * r.N:]
    for n, e in enumerate(after):
        if e.kind != "fn" or not e.args or not isinstance(e.args[0], (list, tuple)):
            continue
        items = list(e.args[0])
        if len(items) != r.N:
            continue
        where = [r.made.get(id(t)) for t in items]
        if any(w is None or r.step_of(w[0]) != k for k, w in enumerate(where)):
            continue
        js = {((w[0] - r.start) % r.L, w[1]) for w in where}
        if len(js) != 1:
            continue
        rest = [a for a in after[n + 1:] if list(_tensors(a.out))]
        if rest or e.out is not out:
            bad = rest[0] if rest else e
            raise FromTorchError(f"{bad.where}: what forward does after joining the loop's outputs: rnntui returns the "
                                 "joined outputs of the loop (return torch.cat(outputs, dim=1))")
        name = getattr(e.target, "__name__", "")
        dim = int(e.kwargs.get("dim", e.args[1] if len(e.args) > 1 else 0))
        item = items[0]
        if name == "stack" and dim in (0, -item.ndim - 1):
            to = lambda y: y   # noqa: E731
        elif name == "stack" and dim == 1:
            to = lambda y: y.transpose(0, 1)   # noqa: E731
        elif name in ("cat", "concat") and item.ndim == 2 and item.shape[1] == 1 and dim in (1, -1):
            to = lambda y: y.transpose(0, 1)[..., None]   # noqa: E731
        elif name in ("cat", "concat") and item.ndim == 3 and item.shape[1] == 1 and dim == 1:
            to = lambda y: y.transpose(0, 1)   # noqa: E731
        else:
            raise FromTorchError(f"{e.where}: {_name(e.target)}(dim={dim}) of the steps' {tuple(item.shape)} values; "
                                 "rnntui joins them with torch.stack(outputs, 0 or 1), or torch.cat(outputs, dim=1) "
                                 "of (batch, 1) values")
        return next(iter(js)), to, e
    return None


def _after_last(r: StepReader, g, events: list, out):
    """What forward does with the last step's value after the loop (return self.fc(h)): the recurrence emits
    that value, `{op: last}` takes the last step, and the modules and functions after it are nodes of their
    own (nn.Linear, activations, log_softmax). Returns ((j, path) emitted, an event for messages, the nodes,
    their comments, the output's layout)."""
    after = [e for e in events[r.start + r.L * r.N:] if list(_tensors(e.out))]
    last_step = r.N - 1
    ids: dict[int, str] = {}
    nodes, comments = [], []
    emitted = None

    def ref(t, e):
        nonlocal emitted
        where = r.made.get(id(t))
        if where is not None and r.step_of(where[0]) == last_step:
            key = ((where[0] - r.start) % r.L, where[1])
            if emitted not in (None, key):
                raise FromTorchError(f"{e.where}: reads two values of the loop's last step; rnntui's loop returns one")
            emitted = key
            return "last"
        if where is not None and id(t) in ids:
            return ids[id(t)]
        raise FromTorchError(f"{e.where}: after the loop, reads a value other than the loop's last one and what was "
                             "made from it")

    for n, e in enumerate(after):
        refs = [ref(t, e) for _, t in _tensors((e.args, e.kwargs))]
        node_id = f"after{n}"
        if e.kind == "module" and type(e.module).__name__ == "Linear":
            m = e.module
            cfg = {"id": node_id, "type": "dense", "units": m.out_features, "from": refs[0]}
            g.param(node_id, "weight", _arr(m.weight), e.target, None)
            g.param(node_id, "bias", _arr(m.bias) if m.bias is not None else np.zeros(m.out_features),
                    e.target if m.bias is not None else None, None)
            comments.append(f"self.{e.target} (nn.Linear)")
        elif e.kind == "module" and type(e.module).__name__ in _ACTS:
            cfg = {"id": node_id, "op": _ACTS[type(e.module).__name__], "from": refs[0]}
            comments.append(f"self.{e.target}")
        elif e.kind == "module" and type(e.module).__name__ in ("LogSoftmax", "Softmax"):
            cfg = {"id": node_id, "op": "log_softmax" if type(e.module).__name__ == "LogSoftmax" else "softmax",
                   "dim": int(e.module.dim), "from": refs[0]}
            comments.append(f"self.{e.target}")
        elif e.kind == "fn" and getattr(e.target, "__name__", "") in ("tanh", "sigmoid", "relu", "log_softmax",
                                                                       "softmax"):
            name = e.target.__name__
            cfg = {"id": node_id, "op": name, "from": refs[0]}
            if "softmax" in name:
                cfg["dim"] = int(e.kwargs.get("dim", e.args[1] if len(e.args) > 1 else -1))
            comments.append(_name(e.target))
        else:
            what = f"nn.{type(e.module).__name__}" if e.kind == "module" else _name(e.target)
            raise FromTorchError(f"{e.where}: {what} after the loop: rnntui maps nn.Linear, activations and "
                                 "(log_)softmax there")
        for _, t in _tensors(e.out):
            ids[id(t)] = node_id
        nodes.append(cfg)
    if not after:   # return h: the last step's value itself
        where = r.made.get(id(out))
        if where is not None and r.step_of(where[0]) == last_step:
            emitted = ((where[0] - r.start) % r.L, where[1])
    if emitted is None or (after and after[-1].out is not out):
        raise FromTorchError((f"{after[-1].where}: " if after else "") + "forward returns neither what each step of "
                             "its loop appends, joined (torch.cat(outputs, dim=1), torch.stack(outputs, 1)), nor "
                             "what it computes from the loop's last value; rnntui reads one of those")
    return emitted, after[0] if after else events[-1], nodes, comments, (lambda y: y)


def _input_lines(name: str, t, multi: bool, feed_steps: int | None, axis: int) -> list[str]:
    """An input's keys: token ids as `tokens` (batch, time), floats as `batch` (batch, time, features); a
    generation loop's input padded with zeros to the steps run."""
    from rnntui.torch_bridge.text import flow

    a = t.detach().cpu()
    a = a.transpose(0, 1) if axis == 0 else a     # (batch, time, ...)
    pad = "    " if multi else "  "
    if not a.dtype.is_floating_point:
        rows = a.reshape(a.shape[0], a.shape[1]).numpy()
        if feed_steps is not None and feed_steps > rows.shape[1]:   # greedy decoding: the steps after read fed ids
            rows = np.concatenate([rows, np.zeros((rows.shape[0], feed_steps - rows.shape[1]), dtype=rows.dtype)], 1)
        body = ["tokens: [\n" + ",\n".join(pad + "  " + flow(r) for r in rows) + "]"]
    else:
        a = a.reshape(a.shape[0], a.shape[1], -1).numpy()
        if feed_steps is not None and feed_steps > a.shape[1]:
            a = np.concatenate([a, np.zeros((a.shape[0], feed_steps - a.shape[1], a.shape[2]), dtype=a.dtype)], 1)
        body = [f"batch: {flow(a, len(pad))}"]
    return [f"  {name}:"] + [pad + b for b in body] if multi else [pad + b for b in body]


def build(module, x, call: tuple, kw: dict, *, output: int, target, loss: str, dtype: str, train, name: str,
          description: str, inputs: dict | None = None, beside: dict | None = None):
    """(scenario text, expected output in rnntui's layout, torch names) of a forward with a loop over the
    steps, or None where the record holds no loop (the caller then says what torch.fx could not follow).
    *inputs*: the forward's tensors by parameter name (x first)."""
    torch = import_torch()
    from rnntui.torch_bridge.text import flow, scenario_text

    inputs = inputs or {"input": x}
    events, out, _keep = record(module, call, kw)
    events = flatten(events)
    if isinstance(out, (tuple, list)):
        out = out[output]
    found = Loop(module, events, x).find()
    if found is None:
        return None
    start, period, count, anchor = found
    before = Before(events[:start], inputs)
    r = StepReader(module, events, x, start, period, count, inputs=inputs, outer=before.outer).read()
    if r.x_name is None:
        raise FromTorchError(f"{events[start].where}: the loop never reads an input one step at a time "
                             "(x.split(1, dim=1), x[:, t], for x_t in x); rnntui reads a loop over an input's steps")
    joined = _join(r, events, out)
    g = StepGraph(r).build(0)
    after_nodes, after_comments = [], []
    if joined is not None:
        (je, pe), to, join = joined
    else:   # the loop's last value read after it (return self.fc(h)): emit it, take the last step, map what follows
        (je, pe), join, after_nodes, after_comments, to = _after_last(r, g, events, out)
    states, starts = {}, {}
    for (j, path), sname in g.state_names.items():
        t = dict(_tensors(events[start + j].out))[path]
        if t.ndim != 2:
            raise FromTorchError(f"{events[start + j].where}: a state of shape {tuple(t.shape)}; rnntui's states are "
                                 "(batch, size)")
        states[sname] = int(t.shape[1])
        if (j, path) in r.starts:
            starts[sname] = r.starts[(j, path)]
    node = {"id": "loop", "type": "recurrence"}
    used = [r.x_name] + [n["from"] for n in before.nodes if isinstance(n.get("from"), str) and n["from"] in inputs]
    used = list(dict.fromkeys(u for u in inputs if u in used))   # in the forward's order
    multi = len(used) > 1
    top, top_comments = list(before.nodes), list(before.comments)
    params, names = dict(before.params), dict(before.torch_names)
    if r.hoisted:
        (j, e), = list(r.hoisted.items())[:1]
        from rnntui.torch_bridge.leaves import embedding

        entry = embedding(e.module)
        hid = _ident(str(e.target))
        top.append({"id": hid, **entry.config, "from": r.x_name})
        top_comments.append(f"self.{e.target} (nn.Embedding), read at each step of the loop")
        for pname, value in entry.params.items():
            params[("top", hid, pname)] = value
            names[f"{e.target}.{pname}"] = ("top", hid, pname)
        node["from"] = hid
    else:
        node["from"] = r.x_name   # left out below where it is the one input
    node.update({"state": states, "step": g.nodes,
                 "next": {sname: g.value_ref(j, path, events[start + j]) for (j, path), sname in g.state_names.items()},
                 "emit": g.value_ref(je, pe, join)})
    if starts:
        node["start"] = starts
    if r.feed is not None:
        fid = g.value_ref(r.feed[0], r.feed[1], join)
        if "." in fid or r.hoisted:
            raise FromTorchError(f"{join.where}: the value fed back is not a step node's value over x; rnntui feeds "
                                 "a step node's value as the next step's x")
        node["feed"], node["feed_after"] = fid, int(r.feed[2])
    steps = r.x.shape[r.axis]
    if r.feed is None and steps != r.N:
        raise FromTorchError(f"{events[start].where}: the loop runs {r.N} steps over {r.x_name}'s {steps}; rnntui runs "
                             "one step per step of its input (and the steps a generation loop adds)")
    nodes = top + [node]
    comments = top_comments + ["the loop: " + ", ".join(g.comments)]
    if joined is None:
        nodes.append({"id": "last", "op": "last", "from": "loop"})
        comments.append("the loop's last step")
        nodes += after_nodes
        comments += after_comments
    index = {n["id"]: i for i, n in enumerate(nodes)}
    loop_i = index["loop"]

    def key(k):
        scope, nid, pname = k
        return f"{loop_i}.{nid}.{pname}" if scope == "step" else f"{index[nid]}.{pname}"

    params = {key(k): v for k, v in {**params, **g.params}.items()}
    torch_names = {tn: key(k) for tn, k in {**names, **g.torch_names}.items()}
    lines = (["inputs:"] if multi else ["input:"])
    for u in used:
        lines += _input_lines(u, inputs[u], multi, r.N if (r.feed is not None and u == r.x_name) else None,
                              r.axis if u == r.x_name else 1)
    if not multi:   # one input, named `input` by the scenario: what reads it reads the first input
        for n in nodes:
            if n.get("from") == used[0]:
                del n["from"]
    expected = to(out.detach().cpu()).numpy()
    target_lines = []
    if loss == "sum":
        if target is not None:
            raise FromTorchError("loss='sum' takes no target (the sum of the output); use loss='mse' with a target")
    elif target is None:
        raise FromTorchError(f"loss={loss!r} needs a target")
    else:
        t = torch.as_tensor(target).detach().cpu()
        want = tuple(out.shape) if loss == "mse" else tuple(out.shape[:-1])
        if tuple(t.shape) != want:
            raise FromTorchError(f"target= has shape {tuple(t.shape)}; loss={loss!r} needs {want}")
        t = to(t if loss == "mse" else t[..., None]).numpy()
        t = t if loss == "mse" else t[..., 0]
        seq = joined is not None
        target_lines = [f"target: {flow(t.swapaxes(0, 1) if seq else t, 2)}"]
    text = scenario_text(
        name=name, description=description + f" Its loop over {r.N} steps was read by running forward once: "
        f"{keys.entry_prefix(loop_i)} is a recurrence whose step graph is one step of it.", dtype=dtype, mode=None,
        input_lines=lines, entries=list(zip(nodes, comments)), params=params, loss=loss, target_lines=target_lines,
        train=train, beside=beside)
    return text, expected, torch_names
