"""Graph models: named nodes that read any earlier node or any named input, modules called more than
once (`same_as`) or sharing one parameter (`tie`), and ops between them (engine/ops/).

A graph is laid out here (`infer_graph`: each node's shapes, what it reads, whose parameters it uses)
and run here (`GraphWalk`, `run_graph`): forward in the nodes' order, the loss on the last node, then
backward in reverse, each node's dL/d(output) the sum over the nodes that read it, and the gradient
of a shared parameter the sum over its uses, as torch autograd accumulates them. Module nodes are the
entry handlers a chain uses, run unchanged; ops are `engine/ops/`. Every node records under the keys a
chain entry does (`model.{i}.out`, its places' keys); the inputs under `input.{name}` and
`grad.input.{name}` besides the first input's `input` and `grad.input`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod
from typing import Any

import numpy as np

from rnntui.engine import keys
from rnntui.engine.context import RunContext
from rnntui.engine.handlers import handler
from rnntui.engine.layout import EntryInfo, LayoutContext, LayoutProblem
from rnntui.engine.losses import loss_and_grad, sample_step_losses
from rnntui.engine.walk import one_term_gradients, record_weights
from rnntui.engine.ops.base import OpProblem, Val, val_of


@dataclass(frozen=True)
class Node:
    """One node as the scenario gives it, its references resolved to node indices and input names."""

    index: int
    id: str
    type: str                       # an entry type or an op's name
    cfg: Any                        # the handler's Config
    reads: tuple                    # node indices (earlier nodes) and input names, in order
    take_final: bool = False        # a recurrent node returns its final state (PyTorch's h_n), not every step
    same_as: int | None = None      # calls this node's module again: its parameters, shared
    tie: tuple = ()                 # (own parameter stem, owner node index, owner's stem)


def is_graph(layout) -> bool:
    """Whether a layout is a graph's (every node of a graph names what it reads)."""
    return bool(layout) and bool(layout[0].reads)


def source_input(layout, index: int) -> str | None:
    """The input a graph node's steps come from, following what it reads first back to an input (None in
    a chain, whose every entry reads the one input through the entries before it)."""
    lay = layout[index]
    if not lay.reads:
        return None
    src = lay.reads[0]
    while not isinstance(src, str):
        src = layout[src].reads[0]
    return src


def source_path(layout, index: int) -> list:
    """The nodes from a graph node's source input up to the node, along what each reads first."""
    path = [layout[index]]
    while not isinstance(path[0].reads[0], str):
        path.insert(0, layout[path[0].reads[0]])
    return path


def source_name(layout, src) -> str:
    return f"input {src!r}" if isinstance(src, str) else layout[src].name


def _reads_words(done: list[EntryInfo], node: Node, vals: list[Val]) -> str:
    return "; it reads " + ", ".join(f"{source_name(done, s)} {v.describe()}" for s, v in zip(node.reads, vals))


def infer_graph(nodes: list[Node], inputs: dict[str, Val], ragged: set[str] | frozenset | dict = frozenset(),
                prefix: str = "") -> list[EntryInfo]:
    """Lay the nodes out in order, or raise the first LayoutProblem (naming the node and the key, and
    the nodes it reads where their shapes do not fit). *ragged*: the inputs whose samples have lengths
    of their own (a map: input -> the input whose lengths it follows, for a step graph's outer values). *prefix*: a recurrence's step graph (`"{i}."`): each node is `{i}.{id}` (its keys
    `model.{i}.{id}.*`, its parameters `{i}.{id}.{name}`), and what it reads is named so too."""
    from rnntui.engine.handlers import handler

    B = next(iter(inputs.values())).shape[next(iter(inputs.values())).bpos]
    out: list[EntryInfo] = []
    ids = {n.index: (n.id or str(n.index)) for n in nodes}

    def key_of(ref):
        """A step graph's reference as its walk names values: a node `{i}.{id}` (`.c`: a cell's c'), an input as is."""
        if isinstance(ref, str):
            return ref
        if isinstance(ref, tuple):   # (node index, its extra value's name)
            return f"{prefix}{ids[ref[0]]}.{ref[1]}"
        return f"{prefix}{ids[ref]}"

    vals: dict = dict(inputs)
    follows = ragged if isinstance(ragged, dict) else {name: name for name in ragged}
    lens: dict = {name: follows.get(name, "") for name in inputs}
    shapes: dict[str, tuple] = {}   # every parameter that exists -> its shape
    for node in nodes:
        hd = handler(node.type)
        ins = [vals[f"{s[0]}.{s[1]}" if isinstance(s, tuple) else s] for s in node.reads]
        # a recurrence steps along what it reads first; the outer sequences it attends over keep their own lengths
        steps_along = node.reads[:1] if getattr(hd, "lays_out_node", False) else node.reads
        seq_lens = {lens.get(s, "") for s, v in zip(steps_along, ins) if v.seq and lens.get(s, "")}
        if len(seq_lens) > 1:
            raise LayoutProblem(node.index, "from", "reads sequences of inputs with different lengths ("
                                + ", ".join(sorted(seq_lens)) + "): their steps do not line up")
        lengths_of = seq_lens.pop() if seq_lens else ""
        if getattr(hd, "lays_out_node", False):   # a recurrence: its step graph, laid out by its handler
            lay = hd.lay_out(node, ins, lengths_of, B, out, [lens.get(s, "") for s in node.reads])
        elif hd.is_op:
            lo, hi = hd.arity
            if not lo <= len(ins) <= (hi if hi is not None else len(ins)):
                want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
                raise LayoutProblem(node.index, "from", f"found {len(ins)} value(s); op {node.type} reads {want}")
            try:
                val, conf = hd.infer(node.cfg, ins)
            except OpProblem as exc:
                raise LayoutProblem(node.index, exc.key or "op",
                                    f"op {node.type}: {exc.message}{_reads_words(out, node, ins)}") from None
            index = f"{prefix}{node.id or node.index}" if prefix else node.index
            lay = EntryInfo(index, node.type, ins[0].feat, val.feat, ins[0].seq, val.seq, view="plain",
                            steps=val.shape[0] if val.seq else 1, config=conf, params=hd.params_of(index, conf))
        else:
            if len(ins) != 1:
                raise LayoutProblem(node.index, "from", f"found {len(ins)} values; a {node.type} node reads one "
                                    "(join them first: op cat, add, ...)")
            v = ins[0]
            if node.take_final and not hd.recurrent:
                raise LayoutProblem(node.index, "take", f"found take: final on a {node.type}; only a recurrent node "
                                    "(rnn, lstm, gru) has a final state")
            if lengths_of and not hd.accepts_packed:
                raise LayoutProblem(node.index, "type", f"{node.type} mixes neighbouring steps, so it cannot read "
                                    f"input {lengths_of!r}, whose samples have different lengths")
            if hd.reads_ids and not (isinstance(node.reads[0], str)):
                raise LayoutProblem(node.index, "from", f"{node.type} reads token ids, so it reads an input "
                                    f"directly; here it reads {source_name(out, node.reads[0])}")
            if hd.reads_ids and prefix and node.reads[0] != "x":
                raise LayoutProblem(node.index, "from", f"found {node.reads[0]!r}; in a step graph {node.type} reads "
                                    "token ids, the step's x (the input's step, or an id fed back: op argmax)")
            ctx = LayoutContext("many-to-one", node.index) if node.take_final else \
                LayoutContext("step" if prefix else "many-to-many", -1)
            index = f"{prefix}{node.id or node.index}" if prefix else node.index
            try:
                lay = hd.layout(index, node.cfg, v.feat, v.seq, v.shape[0] if v.seq else 1, ctx)
            except LayoutProblem as exc:
                raise LayoutProblem(node.index, exc.key, exc.message + _reads_words(out, node, ins)) from None
            if lay.activation in ("softmax", "log_softmax") and len(lay.out_shape) != 1:
                raise LayoutProblem(node.index, hd.activation_key, f"{lay.activation} needs a vector of features; here it "
                                    f"would act on a map of shape {lay.out_shape}")
        reads = tuple(node.reads) if not prefix else tuple(key_of(r) for r in node.reads)
        lay = replace(lay, id=node.id, reads=reads, lengths_of=lengths_of)
        lay = _share(lay, node, out, shapes)
        for name, shape in lay.params.items():
            shapes[name] = shape
        out.append(lay)
        vals[node.index] = val_of(lay, B)
        for name, v in getattr(hd, "extras", ()) and [(n, vals[node.index]) for n in hd.extras]:
            vals[f"{node.index}.{name}"] = v   # a cell's second value (c') has the shape of its first
        lens[node.index] = lengths_of if (lay.seq_out and lay.seq_in and lay.steps == ins[0].shape[0]) else ""
    return out


def _share(lay: EntryInfo, node: Node, done: list[EntryInfo], shapes: dict) -> EntryInfo:
    """A node's parameters that are another's (same_as: all of them; tie: the ones named)."""
    if node.same_as is None and not node.tie:
        return lay
    aliases: dict[str, str] = {}
    prefix = f"{node.index}."

    def owner_of(name: str) -> str:
        o = done[int(name.split(".", 1)[0])]
        return o.aliases.get(name, name)

    if node.same_as is not None:
        other = done[node.same_as]
        for name, shape in lay.params.items():
            theirs = owner_of(f"{node.same_as}.{name[len(prefix):]}")
            if shapes.get(theirs) != shape:
                raise LayoutProblem(node.index, "same_as", (
                    f"calls the module of {other.name} again, whose {name[len(prefix):]} has shape "
                    f"{shapes.get(theirs)}; here it would need {shape} (this node reads features {lay.in_feat}, "
                    f"{other.name} reads {other.in_feat})"))
            aliases[name] = theirs
    for stem, owner_index, owner_stem in node.tie:
        name = prefix + stem
        if name not in lay.params:
            have = ", ".join(n[len(prefix):] for n in lay.params) or "none"
            raise LayoutProblem(node.index, "tie", f"found {stem!r}; a {lay.type} node's parameters are: {have}")
        owner = done[owner_index]
        theirs = owner_of(f"{owner_index}.{owner_stem}")
        if theirs not in shapes:
            have = ", ".join(n.split(".", 1)[1] for n in list(owner.params) + list(owner.aliases)) or "none"
            raise LayoutProblem(node.index, "tie", f"found {owner.id or owner.index}.{owner_stem}; the parameters of "
                                f"{owner.name} are: {have}")
        if shapes[theirs] != lay.params[name]:
            raise LayoutProblem(node.index, "tie", (
                f"ties {stem} {lay.params[name]} to {owner.name}'s {owner_stem}, of shape {shapes[theirs]}; a tied "
                "parameter must have the same shape in both nodes"))
        aliases[name] = theirs
    return replace(lay, params={k: v for k, v in lay.params.items() if k not in aliases}, aliases=aliases)


def graph_floats(layout: list[EntryInfo], input_steps: dict[str, int], B: int) -> int:
    """How many numbers a graph's run holds at its peak (as layout.trace_floats for a chain)."""
    steps_of: dict = dict(input_steps)
    prints = []
    total = 0
    for lay in layout:
        src = lay.reads[0]
        prints.append(handler(lay.type).footprint(lay, steps_of.get(src, 1) if lay.seq_in else 1, B))
        total += 2 * sum(prod(s) for s in lay.params.values())
        steps_of[lay.index] = lay.steps
    last = layout[-1]
    n_out = prod(last.out_shape) * (last.steps if last.seq_out else 1) * B
    total += sum(f.held for f in prints) + 2 * n_out
    temp = max(f.temp for f in prints)
    if last.seq_out and any(lay.recurrent for lay in layout):
        temp += sum(f.records for f in prints) + 2 * n_out
    return total + max(temp, max(f.lazy for f in prints))


def with_aliases(layout, params: dict) -> dict:
    """*params* with every shared parameter also under the names the nodes that share it use."""
    extra = {a: params[o] for lay in layout for a, o in lay.aliases.items()}
    return {**params, **extra} if extra else params


class GraphWalk:
    """The nodes run forward in order, each recording itself; backward runs them in reverse."""

    def __init__(self, layout: list[EntryInfo], ctx: RunContext):
        self.layout, self.ctx = layout, ctx
        self.handlers = [handler(lay.type) for lay in layout]
        self.node_params = [with_aliases([lay], ctx.params) if lay.aliases else ctx.params for lay in layout]
        self.xs, self.pres, self.outs, self.caches = [], [], [], []
        self.inputs: dict[str, np.ndarray] = {}
        # what-if: value key -> [(mask, values), ...] overwritten at this walk's step (a recurrence's step walk,
        # engine/ops/recurrence.py): what follows reads the new value, no gradient reaches what computed the old
        self.puts: dict = {}

    def _put(self, key, a: np.ndarray) -> np.ndarray:
        for mask, values in self.puts.get(key, ()):
            a = np.where(mask, values.astype(a.dtype), a)
        return a

    def _cut(self, key, g: np.ndarray) -> np.ndarray:
        for mask, _ in self.puts.get(key, ()):
            g = np.where(mask, np.zeros((), dtype=g.dtype), g)
        return g

    def forward(self, inputs: dict[str, np.ndarray], rec: dict) -> np.ndarray:
        self.inputs = inputs
        vals: dict = dict(inputs)
        self.vals = vals
        for lay, hd, params in zip(self.layout, self.handlers, self.node_params):
            xs = [vals[s] for s in lay.reads]
            if hd.is_op:
                self.ctx.rec, self.ctx.puts = rec, self.puts
                out, cache = hd.run(lay, xs, self.ctx)
                pre = None
                for name, v in (hd.extra_values(cache) if hd.extras else {}).items():   # a cell's c'
                    v = self._put(f"{lay.index}.{name}", v) if self.puts else v
                    vals[f"{lay.index}.{name}"] = v
                    rec[keys.node_value(lay.index, name)] = v
            else:
                pre, out, cache = hd.forward(lay, xs[0], params, rec, self.ctx)
            self.xs.append(xs)
            self.pres.append(pre)
            self.outs.append(out)
            self.caches.append(cache)
            if self.puts:
                out = self._put(lay.index, out)
            rec[keys.out(lay.index)] = out
            vals[lay.index] = out
        return self.outs[-1]

    def backward(self, g, g_pre, grads: dict, rec: dict, seeds: dict | None = None,
                 lean: bool = False, finals: dict | None = None) -> dict[str, np.ndarray]:
        """dL/d(each input), by name; parameter gradients summed over their uses into *grads*. *seeds*: the
        gradients reaching values from outside (a recurrence's step: its emitted value and next states),
        instead of *g* reaching the last node. *lean*: the one-term pass (network.one_term_gradients):
        recurrent entries record dL/dh_t and dL/d(input) without their weight gradients. *finals*: node index ->
        the gradient reaching a recurrent node's final states from outside (a checkpointed run's segment: from the
        segment after it, engine/checkpoint_kinds.py)."""
        pending: dict = {self.layout[-1].index: g} if seeds is None else dict(seeds)
        self.totals = {}
        self.ctx.grads = grads
        n = len(self.layout)
        for k in range(n - 1, -1, -1):
            lay, hd = self.layout[k], self.handlers[k]
            gk = pending.pop(lay.index, None)
            if gk is None:
                gk = np.zeros_like(self.outs[k])   # a node the loss does not read
            rec[keys.grad(keys.out(lay.index))] = self.totals[lay.index] = gk
            if self.puts:
                gk = self._cut(lay.index, gk)
            xs = self.xs[k]
            if hd.is_op and hd.extras:
                g_extra = {}
                for name in hd.extras:
                    key = f"{lay.index}.{name}"
                    ge = pending.pop(key, None)
                    g_extra[name] = self.totals[key] = np.zeros_like(gk) if ge is None else ge
                    rec[keys.grad(keys.node_value(lay.index, name))] = g_extra[name]
                    if self.puts:
                        g_extra[name] = self._cut(key, g_extra[name])
                self.ctx.grads, self.ctx.rec = grads, rec
                gins = hd.grads(lay, xs, self.outs[k], self.caches[k], gk, self.ctx, g_extra=g_extra)
            elif hd.is_op:
                self.ctx.grads = grads
                self.ctx.rec = rec
                kw = {"final": finals[lay.index]} if finals and lay.index in finals else {}   # a recurrence's
                gins = hd.grads(lay, xs, self.outs[k], self.caches[k], gk, self.ctx, **kw)
            else:
                local: dict = {}
                kw = {"lean": True} if (lean and hd.recurrent) else {}
                if finals and lay.index in finals:
                    kw["final"] = finals[lay.index]
                gin = hd.backward(lay, xs[0], self.pres[k], self.outs[k], self.caches[k], gk, self.node_params[k],
                                  local, rec, g_pre if k == n - 1 else None, **kw)
                for name, v in local.items():
                    owner = lay.aliases.get(name, name)
                    grads[owner] = v if owner not in grads else grads[owner] + v
                gins = [gin]
            for src, gi in zip(lay.reads, gins):
                if gi is not None:
                    pending[src] = gi if src not in pending else pending[src] + gi
        return {name: pending.get(name, np.zeros_like(x)) for name, x in self.inputs.items()}


def recorded_inputs(trace) -> tuple[dict, dict]:
    """(inputs by name, lengths by input name) a graph's run read, from its record."""
    dtype = np.dtype(trace.info.dtype)
    names = trace.info.inputs
    inputs = {n: np.ascontiguousarray(trace[keys.input_key(n)], dtype=dtype) for n in names}
    lengths = {n: np.asarray(trace[keys.input_lengths(n)], dtype=np.int64) for n in names
               if keys.input_lengths(n) in trace}
    return inputs, lengths


def run_graph(layout: list[EntryInfo], inputs: dict[str, np.ndarray], ctx: RunContext, loss_kind: str, target,
              derived: dict | None = None) -> dict[str, np.ndarray]:
    """Forward, loss and backward of a graph; returns the trace's arrays (not yet read-only)."""
    rec: dict[str, np.ndarray] = {}
    walk = GraphWalk(layout, ctx)
    out = walk.forward(inputs, rec)
    last = layout[-1]
    logits = walk.pres[-1] if (loss_kind == "cross_entropy" and last.activation == "softmax") else None
    per_step = last.seq_out
    lengths = ctx.lengths.get(last.lengths_of) if (per_step and last.lengths_of) else None
    real = None if lengths is None else np.arange(out.shape[0])[:, None] < lengths[None, :]
    loss, g, g_pre, step_loss = loss_and_grad(loss_kind, out, logits, target, steps_first=per_step, real=real)
    grads: dict[str, np.ndarray] = {}
    gin = walk.backward(g, g_pre, grads, rec)
    for name, x in inputs.items():
        rec[keys.input_key(name)] = x
        rec[keys.grad(keys.input_key(name))] = gin[name]
        if ctx.lengths.get(name) is not None:   # what a what-if reruns the graph with (recorded_inputs)
            rec[keys.input_lengths(name)] = np.asarray(ctx.lengths[name], dtype=np.int64)
    first = next(iter(inputs))
    rec[keys.INPUT] = inputs[first]
    rec[keys.GRAD_INPUT] = gin[first]
    if per_step and derived is not None:
        def backward(g1, p1, grads1, scratch, lean=""):
            return walk.backward(g1, p1, grads1, scratch, lean=bool(lean))
        from rnntui.engine.graph_diag import carries, state_names

        carried = [(keys.entry_prefix(lay.index), [keys.grad(keys.node_value(lay.index, n)) for n in state_names(lay)])
                   for lay in layout if carries(lay)]
        derived.update(one_term_gradients(layout, g, g_pre, backward, lengths, carried=carried))
    rec[keys.OUTPUT] = out
    dtype = inputs[first].dtype
    rec[keys.LOSS] = np.asarray(loss, dtype=dtype)
    if step_loss is not None:
        rec[keys.STEP_LOSS] = np.asarray(step_loss, dtype=dtype)
        rec[keys.SAMPLE_STEP_LOSS] = np.asarray(sample_step_losses(loss_kind, out, logits, target, real), dtype=dtype)
    for name, v in ctx.params.items():
        grads.setdefault(name, np.zeros_like(v))   # a parameter of a node the loss does not read
    record_weights(rec, ctx.params, grads, ctx.buffers)
    return rec
