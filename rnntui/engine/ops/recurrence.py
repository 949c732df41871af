"""`recurrence`: a node of a graph model that runs a small step graph once per step, carrying named
states from one step to the next (docs/scenario-format.md, "Recurrences").

    - id: rnn
      type: recurrence
      from: x                       # a sequence: step t's graph reads its slice as `x`
      state: {h: 6}                 # named states, (B, size), zero at the start
      step:                         # a graph (engine/graph.py) over x, the states and outer nodes
        - {id: xh, op: cat, from: [x, h]}
        - {id: hn, type: dense, units: 6, activation: tanh, from: xh}
      next: {h: hn}                 # each state's value for the next step
      emit: hn                      # what the node returns at each step

The step graph's parameters are the node's (`{i}.{step id}.{name}`), shared by every step, so their
gradient is the sum over the steps, as autograd sums it over a Python loop. Every value the step graph
computes is recorded at every step (`model.{i}.{step id}.out`, (T, B, ...)), and each state with its
BPTT split: `model.{i}.{state}` (the state after step t), `grad.model.{i}.{state}` (dL/ds_t, the
total), `.through_time` (what reaches it from step t+1), `.from_output` (the rest: through step t's
own emitted value) and `grad.model.{i}.{state}0` (what reaches the zero start).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from rnntui.engine import keys
from rnntui.engine.layout import EntryInfo, Footprint, LayoutProblem
from rnntui.engine.ops.base import Op, OpProblem, Val
from rnntui.engine.keys import FROM_OUTPUT, THROUGH_TIME
from rnntui.engine.diagnostics import vector_norm
from rnntui.engine.recording import step_norms

STEP_VALUE_OVERHEAD = 96
"""Numbers a step graph's node costs per step beyond its values (at float64, 768 bytes): the step's walk keeps a
few small arrays per node (its value, a dense's pre-activation, the recorded copy, the backward's gradient) alive
until the backward pass is done, each with a NumPy header larger than a small state's numbers (measured: 4.4 KB a
step for a 6-node cell with 6 units and B = 1, whose values are 1.1 KB; tests/engine/test_memory_estimate.py)."""


@dataclass(frozen=True)
class RecurrenceSpec:
    """A recurrence as the scenario gives it (scenario/graph.py resolves the names)."""

    states: tuple          # ((name, size), ...)
    step: tuple            # the step graph's engine.graph.Node's; inputs x, the states and `outer`
    next: tuple            # ((state, reference in the step graph), ...)
    emit: object           # a reference in the step graph
    outer: tuple = ()      # outer node ids the step graph reads, in the order of the node's reads after x
    start: tuple = ()      # ((state, outer node id), ...): states that start from a node's value, not zero
    feed: object = None    # a step node whose value at step t is step t+1's x (generation), or None
    feed_after: int = 1    # the first step that reads the fed value (the steps before read the input)


def _where(on: np.ndarray, a: np.ndarray, other) -> np.ndarray:
    """*a* where the sample is on (*on*: (B,)), else *other*; the batch axis is a's first."""
    return np.where(on.reshape((-1,) + (1,) * (a.ndim - 1)), a, other)


def state_key(index, name: str) -> str:
    return keys.node_value(index, name)


def step_layout(info: EntryInfo) -> tuple[EntryInfo, ...]:
    """The step graph's nodes (kept in the node's config as plain maps, so meta.layout saves them)."""
    return tuple(EntryInfo(**dict(d)) for d in info.config["step"])



def _handler(type_: str):
    """A step node's handler. The registry (engine/handlers.py) holds this module's own Recurrence, so it is
    looked up when a step graph runs, not when this module is imported."""
    from rnntui.engine.handlers import handler

    return handler(type_)

class Recurrence(Op):
    type = "recurrence"
    doc = "a step graph run once per step with named states (custom cells, nn.LSTMCell loops)"
    lays_out_node = True
    arity = (1, None)

    # --- layout ---------------------------------------------------------------------------------
    def lay_out(self, node, ins: list[Val], lengths_of: str, B: int, done, read_lengths=()) -> EntryInfo:
        """*lengths_of*: the input whose lengths its steps follow ("" none); *read_lengths*: those of each value
        it reads (an outer sequence's own: an attention step masks its padded steps)."""
        from rnntui.engine.graph import infer_graph

        spec: RecurrenceSpec = node.cfg
        x = ins[0]
        if not x.seq:
            raise LayoutProblem(node.index, "from", f"found {x.describe()}, which has no steps; a recurrence runs "
                                "over a sequence (T, B, ...)")
        T = x.shape[0]
        inputs = {"x": Val((B,) + x.feat, 0)}
        for name, n in spec.states:
            inputs[name] = Val((B, n), 0)
        for name, v in zip(spec.outer, ins[1:]):
            inputs[name] = v
        prefix = f"{node.index}."
        outer_lengths = {name: ln for name, ln, v in zip(spec.outer, list(read_lengths)[1:], ins[1:]) if ln and v.seq}
        try:
            step = infer_graph(list(spec.step), inputs, outer_lengths, prefix=prefix)
        except LayoutProblem as exc:
            k = next(k for k, n in enumerate(spec.step) if n.index == exc.index) if not isinstance(exc.index, str) else 0
            raise LayoutProblem(node.index, ("step", k) + ((exc.key,) if exc.key else ()), exc.message) from None
        by_key = {lay.index: lay for lay in step}
        ids = {n.index: (n.id or str(n.index)) for n in spec.step}

        def key(ref):
            if isinstance(ref, tuple):
                return f"{prefix}{ids[ref[0]]}.{ref[1]}"
            return f"{prefix}{ids[ref]}"

        def val(ref):
            k = ref[0] if isinstance(ref, tuple) else ref
            lay = next(s for s in step if s.index == f"{prefix}{ids[k]}")
            return lay
        for name, n in spec.states:
            ref = dict(spec.next)[name]
            lay = val(ref)
            if lay.seq_out or tuple(lay.out_shape) != (n,):
                raise LayoutProblem(node.index, ("next", name), f"found {key(ref)} with features {lay.out_shape}; "
                                    f"state {name} is (B, {n}), so its next value must be too")
        for name, src in spec.start:
            v = inputs[src]
            n = dict(spec.states)[name]
            if v.seq or v.feat != (n,):
                raise LayoutProblem(node.index, ("start", name), f"found {src} {v.describe()}; state {name} starts "
                                    f"as (B, {n})")
        self._check_ids(node, step, spec, key, val)
        if spec.feed is not None:
            fed = val(spec.feed)
            if fed.seq_out or tuple(fed.out_shape) != tuple(x.feat):
                hint = " (an op argmax: keepdim: true)" if hasattr(_handler(fed.type), "gives_ids") else ""
                raise LayoutProblem(node.index, "feed", f"found {key(spec.feed)} with features {fed.out_shape}; the "
                                    f"next step's x has {x.feat}, so the fed value must have them too{hint}")
        emit = val(spec.emit)
        if emit.seq_out:
            raise LayoutProblem(node.index, "emit", f"found {key(spec.emit)}, a sequence; a step emits one value per sample")
        params = {}
        for lay in step:
            params.update(lay.params)
        conf = {"states": dict(spec.states), "next": {n: key(r) for n, r in spec.next}, "emit": key(spec.emit),
                "outer": tuple(spec.outer), "start": dict(spec.start),
                "feed": None if spec.feed is None else key(spec.feed), "feed_after": spec.feed_after, "step": tuple(dict(lay.__dict__) for lay in step)}
        del by_key
        return EntryInfo(node.index, self.type, x.feat, tuple(emit.out_shape), True, True, view="steps", steps=T,
                         params=params, config=conf)

    @staticmethod
    def _check_ids(node, step, spec, key, val) -> None:
        """A step graph that embeds x reads token ids: the recurrence reads an input of tokens, and a value fed
        back as x must be ids the embedding has rows for (op argmax over at most num_embeddings scores)."""
        readers = [lay for lay in step if _handler(lay.type).reads_ids]
        if not readers:
            return
        name = readers[0].index
        if not isinstance(node.reads[0], str):
            raise LayoutProblem(node.index, "from", f"its step node {name} ({readers[0].type}) reads x as token ids, "
                                "so the recurrence reads an input of tokens directly, not another node")
        if spec.feed is None:
            return
        fed = val(spec.feed)
        count = min(_handler(lay.type).laid_out_id_count(lay) for lay in readers)
        gives = getattr(_handler(fed.type), "gives_ids", None)
        if gives is None:
            raise LayoutProblem(node.index, "feed", f"found {key(spec.feed)} ({fed.type}), which gives no ids; step node "
                                f"{name} reads x as token ids, so the value fed back must be an id: an op argmax "
                                "over the scores, with keepdim: true")
        if gives(fed) > count:
            raise LayoutProblem(node.index, "feed", f"found {key(spec.feed)}, an argmax over {gives(fed)} scores (ids "
                                f"0..{gives(fed) - 1}); step node {name} has {count} rows (ids 0..{count - 1})")

    def step_id_count(self, spec: RecurrenceSpec) -> int | None:
        """How many ids the step graph's embeddings of x can look up (the fewest rows), or None: it embeds none.
        The loader reads the recurrence's input as token ids then, checked against it."""
        counts = [_handler(n.type).id_count(n.cfg) for n in spec.step
                  if _handler(n.type).reads_ids and n.reads[:1] == ("x",)]
        return min(counts) if counts else None

    def step_nodes(self, info) -> tuple[EntryInfo, ...]:
        return step_layout(info)

    def infer(self, cfg, ins):  # pragma: no cover - lay_out does it
        raise OpProblem(None, "a recurrence lays itself out")

    def _owner(self, info, name):
        return next(lay for lay in step_layout(info) if name in lay.params)

    def init_pytorch(self, info, name, shape, rng):
        lay = self._owner(info, name)
        return _handler(lay.type).init_pytorch(lay, name, shape, rng)

    def fixed_init(self, info, name, shape):
        lay = self._owner(info, name)
        return _handler(lay.type).fixed_init(lay, name, shape)

    def init_bound(self, info, name):
        lay = self._owner(info, name)
        return _handler(lay.type).init_bound(lay, name)

    def is_recurrent_matrix(self, name: str) -> bool:
        return name.endswith(".weight_hh")

    # --- what-if: the step graph's values an intervention may set (engine/interventions.py) ------
    def settable_values(self, info) -> tuple[str, ...]:
        """The states, then every step node's value of one axis of features (its id; a cell's second value
        `{id}.c`), in the step graph's order."""
        out = list(info.config["states"])
        for lay in step_layout(info):
            if lay.seq_out or len(lay.out_shape) != 1:
                continue
            name = str(lay.index).split(".", 1)[1]
            out.append(name)
            out += [f"{name}.{extra}" for extra in getattr(_handler(lay.type), "extras", ())]
            out += [f"{name}.gates.{g}" for g in getattr(_handler(lay.type), "gate_names", ())]   # a cell's gates
        return tuple(out)

    def value_size(self, info, name: str) -> int:
        if name in info.config["states"]:
            return int(info.config["states"][name])
        node = name.split(".", 1)[0]
        lay = next(lay for lay in step_layout(info) if str(lay.index) == f"{info.index}.{node}")
        return int(lay.out_shape[0])   # a cell's second value and its gates have the shape of its first

    def value_problem(self, info, name: str, value: float) -> str | None:
        """Why *value* cannot be set on step value *name* (None: it can): an id (op argmax's, the token a greedy
        decoder chose and feeds back) is a whole number the argmax could give, 0..n-1."""
        if name in info.config["states"]:
            return None
        lay = next((lay for lay in step_layout(info) if str(lay.index) == f"{info.index}.{name}"), None)
        gives = getattr(_handler(lay.type), "gives_ids", None) if lay is not None else None
        if gives is None:
            return None
        n = gives(lay)
        if value != int(value) or not 0 <= value < n:
            return f"found {value!r}; {name} is an id, the argmax over {n} scores: expected a whole number in 0..{n - 1}"
        return None

    def value_key(self, info, name: str) -> str:
        """The step walk's key of a settable value: a state is the value its next step carries."""
        if name in info.config["states"]:
            return info.config["next"][name]
        return f"{info.index}.{name}"

    def _puts(self, info, ov, t: int) -> dict:
        """The overwrites of step t: walk key -> [(mask (H,), values (H,)), ...] in the order given."""
        out: dict = {}
        for name in ov.mask:
            if ov.hits(name, t):
                out.setdefault(self.value_key(info, name), []).append((ov.mask[name][t], ov.values[name][t]))
        return out

    def footprint(self, info, steps, B) -> Footprint:
        inner = [_handler(lay.type).footprint(lay, 1, B) for lay in step_layout(info)]
        T = info.steps
        states = sum(info.config["states"].values()) * B * T
        return Footprint(held=T * sum(f.held for f in inner) + 4 * states,
                         records=T * sum(f.records for f in inner) + 3 * states,
                         temp=max(f.temp for f in inner) + prod(info.in_feat) * B * T
                         + T * len(inner) * STEP_VALUE_OVERHEAD)   # the per-step walks' arrays, until the backward

    def mixes_steps(self, info, training):
        return True

    # --- running --------------------------------------------------------------------------------
    def run(self, info, xs, ctx):
        from rnntui.engine.graph import GraphWalk

        x, outer = xs[0], dict(zip(info.config["outer"], xs[1:]))
        step = list(step_layout(info))
        conf = info.config
        T, B = x.shape[:2]
        start = conf.get("start", {})
        resume = ctx.initial.get(info.index, {})   # a checkpointed run's segment: the states the one before ended with
        states = {name: (resume[name] if name in resume else outer[start[name]] if name in start
                         else np.zeros((B, n), dtype=x.dtype)) for name, n in conf["states"].items()}
        rec = ctx.rec
        walks, recs, emits, after = [], [], [], {name: [] for name in states}
        feed, after_step = conf.get("feed"), conf.get("feed_after", 1)
        read = []
        ov = None if ctx.plan is None else ctx.plan.overrides(keys.entry_prefix(info.index))
        real = self._real(info, ctx, T)
        seq_keys = {keys.out(lay.index) for lay in step if lay.seq_out}   # a step value with steps of its own
        for t in range(T):
            r: dict = {}
            walk = GraphWalk(step, ctx)
            if ov is not None:
                walk.puts = self._puts(info, ov, t)
            xt = walks[-1].vals[feed] if (feed is not None and t >= after_step) else x[t]
            read.append(xt)
            walk.forward({"x": xt, **states, **outer}, r)
            walks.append(walk)
            recs.append(r)
            if real is None:
                emits.append(walk.vals[conf["emit"]])
                states = {name: walk.vals[ref] for name, ref in conf["next"].items()}
            else:   # packed: past its length a sample's states stay as they were and it emits zeros
                on = real[t]
                emits.append(_where(on, walk.vals[conf["emit"]], 0))
                states = {name: _where(on, walk.vals[ref], states[name]) for name, ref in conf["next"].items()}
                for key, v in r.items():   # what the step graph computed for a padded sample is not recorded
                    if key not in seq_keys:
                        r[key] = _where(on, v, 0)
            for name, v in states.items():
                after[name].append(v)
        ctx.rec = rec
        for key in recs[0]:
            rec[key] = np.stack([r[key] for r in recs])
        for name, vs in after.items():
            rec[state_key(info.index, name)] = np.stack(vs)
        if feed is not None:
            rec[state_key(info.index, "x")] = np.stack(read)   # what each step read: the input, then the fed value
        return np.stack(emits), {"walks": walks}

    def grads(self, info, xs, out, cache, g, ctx, final: dict | None = None):
        """*final*: state -> (B, n), the gradient reaching the states after the last step from outside (a
        checkpointed run's segment: from the segment after it, engine/checkpoint_kinds.py); zero by default.
        What reaches the states before the first step is left in cache["dstate0"] (state -> (B, n))."""
        x, outer = xs[0], xs[1:]
        conf = info.config
        walks = cache["walks"]
        T, B = x.shape[:2]
        rec, grads = ctx.rec, ctx.grads
        d = {name: (np.array(final[name], dtype=x.dtype) if final is not None and name in final
                    else np.zeros((B, n), dtype=x.dtype)) for name, n in conf["states"].items()}
        gx = np.zeros_like(x)
        gouter = [np.zeros_like(o) for o in outer]
        total = {name: np.zeros((T, B, n), dtype=x.dtype) for name, n in conf["states"].items()}
        through = {name: np.zeros_like(v) for name, v in total.items()}
        brecs = [None] * T
        feed, after_step = conf.get("feed"), conf.get("feed_after", 1)
        norms = {} if step_norms() else None   # gradnorm.step.*: each step's term of each parameter's gradient
        g_fed = None   # dL/d(x of step t+1), where step t+1 read step t's fed value
        real = self._real(info, ctx, T)
        for t in range(T - 1, -1, -1):
            d_in = d
            if real is not None:   # a padded sample's step computed nothing: its gradient passes it by
                d = {name: _where(real[t], v, 0) for name, v in d.items()}
            seeds = {conf["emit"]: g[t] if real is None else _where(real[t], g[t], 0)}
            if g_fed is not None:
                seeds[feed] = g_fed if feed not in seeds else seeds[feed] + g_fed
            for name, ref in conf["next"].items():
                through[name][t] = d[name]
                seeds[ref] = d[name] if ref not in seeds else seeds[ref] + d[name]
            r: dict = {}
            if norms is None:
                gin = walks[t].backward(None, None, grads, r, seeds=seeds)
            else:   # step t's own term of each parameter's gradient, then added to the sum over the steps
                own: dict = {}
                gin = walks[t].backward(None, None, own, r, seeds=seeds)
                for name, v in own.items():
                    grads[name] = v if name not in grads else grads[name] + v
                    norms.setdefault(name, np.zeros(T))[t] = vector_norm(v)
            brecs[t] = r
            for name, ref in conf["next"].items():
                # dL/ds_t in all: what reached the value s_t is (a cell's c': the total inside the cell, its own
                # h_t included, as autograd's c_t.grad)
                total[name][t] = r[keys.grad(keys.entry_prefix(ref))] if keys.grad(keys.entry_prefix(ref)) in r \
                    else r[keys.grad(keys.out(ref))]
            fed_here = feed is not None and t >= after_step
            g_fed = gin["x"] if fed_here else None
            if not fed_here:
                gx[t] = gin["x"]          # a step that read the fed value read nothing of the input
            for k, name in enumerate(conf["outer"]):
                gouter[k] = gouter[k] + gin[name]
            d = {name: gin[name] if real is None else _where(real[t], gin[name], d_in[name]) for name in d}
        ctx.rec, ctx.grads = rec, grads
        for name, src in conf.get("start", {}).items():   # what reached a state that started from a node
            k = conf["outer"].index(src)
            gouter[k] = gouter[k] + d[name]
        for key in brecs[0]:
            rec[key] = np.stack([r[key] for r in brecs])
        for name, v in (norms or {}).items():
            rec[keys.step_gradnorm(name)] = v.astype(x.dtype)
        for name in d:
            k = state_key(info.index, name)
            rec[keys.grad(k)] = total[name]
            rec[keys.grad(f"{k}.{THROUGH_TIME.split('.', 1)[1]}")] = through[name]
            rec[keys.grad(f"{k}.{FROM_OUTPUT.split('.', 1)[1]}")] = total[name] - through[name]
            rec[keys.grad(f"{k}0")] = d[name]
        cache["dstate0"] = dict(d)
        return [gx, *gouter]

    @staticmethod
    def _real(info, ctx, T: int):
        """(T, B) whether each sample is still running at each step (None: every sample runs every step)."""
        lengths = ctx.lengths.get(info.lengths_of) if info.lengths_of else None
        if lengths is None:
            return None
        return np.arange(T)[:, None] < np.asarray(lengths)[None, :]

    def describe(self, info) -> str:
        st = ", ".join(f"{n} ({size})" for n, size in info.config["states"].items())
        return f"states {st}; {len(info.config['step'])} step nodes"

    def equations(self, info) -> list[str]:
        out = []
        for lay in step_layout(info):
            out += [f"{lay.index}: {e}" for e in _handler(lay.type).equations(lay)]
        out += [f"{n}_t = {ref}" for n, ref in info.config["next"].items()]
        return out


OPS = (Recurrence(),)
