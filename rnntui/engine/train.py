"""Training: iterations as an outer axis around the plain run (docs/trace-format.md, `train.*`).

Iteration k runs the scenario exactly as a scenario without `train:` would run with the parameters
after k updates (`run.run_once`, the whole batch), then clips the gradients and takes one optimizer
step (engine/optim.py); batchnorm entries normalise with the batch's statistics in every iteration
and move their running statistics after it (buffers, checkpointed with the parameters, never optimised).
Every iteration leaves a few numbers (loss, gradient norms, update ratios,
the BPTT profile); the full step record is made only for the last iteration: every other one runs lean
(engine/recording.py), and of the few before the last only the parameters and buffers they started from are
kept, so stepping back to one of them is one run. Any other iteration is recomputed from the nearest checkpoint (parameters and optimizer state saved
every `every` iterations), running the same function on the same arrays, so it is bit for bit what
training computed.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass, replace

import numpy as np

from rnntui.engine import keys, optim, recording
from rnntui.engine.families import fused
from rnntui.engine.checkpoint import CheckpointedTrace
from rnntui.engine.handlers import handler
from rnntui.engine.minibatch import batch_indices, subset
from rnntui.engine.progress import report
from rnntui.engine.memory import available_memory
from rnntui.engine.run import cast_buffers, estimate_bytes, run_once
from rnntui.engine.trace import IterationNotKept, Trace
from rnntui.engine.trace_file import SavedTrainTrace
from rnntui.errors import Problem, ScenarioError
from rnntui.sizes import format_size

CHECKPOINT_BUDGET = 256 << 20   # at most this much of checkpoints (less when --max-memory is smaller)
MAX_CACHED = 8                  # recent iterations' full records kept for stepping back and forth


@dataclass
class Step:
    """What one iteration leaves besides its record."""

    loss: np.ndarray
    gradnorm: np.ndarray
    gradnorm_clipped: np.ndarray
    clipped: bool
    param_gradnorm: dict[str, np.ndarray]
    update_ratio: dict[str, np.ndarray]
    param_norm: dict[str, np.ndarray]       # ‖P_k‖, the ratio's denominator (0: a ratio of inf is "moved from 0")
    bptt: dict[str, np.ndarray]
    finite: bool
    lr: float                               # the learning rate this iteration's update took (the schedule's)


class Trainer:
    """Runs iterations; `iteration(k)` recomputes any of them from a checkpoint."""

    def __init__(self, sc, max_memory: int | None = None, recording: str | None = None):
        self.cfg = sc.train
        self.max_memory = max_memory
        self.recording = recording   # "full" or "checkpointed" for every iteration's run (tests), else the limit's
        dtype = np.dtype(sc.dtype)
        params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in sc.params.items()}
        buffers = cast_buffers(getattr(sc, "buffers", {}), dtype)   # not optimised: moved by the entries themselves
        self.plain = replace(sc, train=None, params=params, buffers=buffers)
        self.names = list(params)
        self.rates = self.cfg.learning_rates()
        # each iteration's samples (None: every iteration reads the whole batch, as it is)
        self.batches = (None if self.cfg.batch_size is None else
                        batch_indices(sc.B, self.cfg.batch_size, self.cfg.shuffle, sc.seed, self.cfg.iterations))
        self.limit = available_memory() // 2 if max_memory is None else max_memory
        self.dropout = _dropout_places(sc)
        self.every, self.cached = self._plan(sc, params)
        self.checkpoints: dict[int, tuple[dict, optim.State, dict]] = {0: (params, optim.State(), buffers)}
        self.recent: OrderedDict[int, Trace] = OrderedDict()
        # the (parameters, buffers) the last few iterations before the last started from: one run recomputes any
        self.near: dict[int, tuple[dict, dict]] = {}

    # --- memory ---------------------------------------------------------------------------------
    def _plan(self, sc, params) -> tuple[int, int]:
        """(checkpoint every K iterations, iterations whose record is cached), within the limit."""
        N = self.cfg.iterations
        run = estimate_bytes(self.scenario(0))   # the first minibatch is the largest
        from rnntui.engine.checkpoint import segment_steps, why_whole

        first = self.scenario(0)
        first = replace(first, training=True, dropout_masks=self.masks(0, first.B))
        if run > self.limit // 4 and why_whole(first) is None and \
                first.x.shape[0] > segment_steps(list(first.layout), first.B, first.dtype):
            # each iteration's run checkpointed (engine/checkpoint.py): its recent segments hold at most a
            # quarter of the limit, the rest (boundaries, per-step diagnostics) is small beside its whole record
            run = self.limit // 4
        pbytes = sum(p.nbytes for p in params.values())
        state = pbytes + optim.state_nbytes(self.cfg.optimizer, pbytes) + sum(b.nbytes for b in self.plain.buffers.values())
        from rnntui.engine.graph_diag import carries

        steps = sum(e.steps for e in sc.layout if e.recurrent or carries(e)) * 2
        per_iteration = (6 + 2 * len(params) + steps) * 8
        budget = min(CHECKPOINT_BUDGET, self.limit // 4)
        every = max(1, math.ceil(N * state / budget)) if budget > 0 else N
        need = 2 * run + 2 * state + (N // every + 1) * state + N * per_iteration
        if need > self.limit:
            raise ScenarioError([Problem(sc.file, None, None, "train", (
                f"training would hold about {format_size(need)} (two runs of {format_size(run)}, checkpoints "
                f"of {format_size(state)} and {format_size(N * per_iteration)} of per-iteration records), more "
                f"than the limit of {format_size(self.limit)}; use fewer iterations, a smaller model, or raise "
                "--max-memory"))])
        cached = max(1, min(MAX_CACHED, (self.limit - need) // max(run, 1)))
        return every, cached

    # --- one iteration --------------------------------------------------------------------------
    def scenario(self, k: int):
        """The scenario iteration k runs: the whole batch, or its minibatch's samples."""
        return self.plain if self.batches is None else subset(self.plain, self.batches[k])

    def _run(self, params: dict, buffers: dict, k: int) -> Trace:
        sc = self.scenario(k)
        # every run of the replay on one path (the fused step loops where numba is installed, families/fused), so
        # an iteration recomputed from a checkpoint is bit for bit the one training computed
        with fused.replay():
            return run_once(replace(sc, params=params, buffers=buffers, training=True,
                                    dropout_masks=self.masks(k, sc.B)), max_memory=self.max_memory, iteration=k,
                            recording=self.recording)

    def _buffers_after(self, run: Trace, buffers: dict) -> dict:
        """The buffers after iteration *run* (batchnorm's running statistics), as each entry moves them."""
        if not buffers:
            return buffers
        new = dict(buffers)
        for e in run.info.entries:
            if handler(e.type).has_buffers:
                new.update(handler(e.type).updated_buffers(e, run, buffers))
        return new

    def masks(self, k: int, B: int | None = None) -> dict[str, np.ndarray] | None:
        """Iteration k's dropout masks (None without dropout), drawn from the seed and k alone, so any
        iteration replays with its own: 0 where an element is dropped, 1/(1-p) where kept (PyTorch's
        bernoulli(1-p) / (1-p))."""
        if not self.dropout:
            return None
        rng = np.random.default_rng([self.plain.seed, 7, k])
        dtype = np.dtype(self.plain.dtype)
        out = {}
        B = self.plain.B if B is None else B
        for key, shape_of, p in self.dropout:
            shape = shape_of(B)
            keep = rng.random(shape) >= p
            out[key] = np.zeros(shape, dtype) if p >= 1 else keep.astype(dtype) / dtype.type(1 - p)
        return out

    def _update(self, run: Trace, params: dict, state: optim.State, k: int) -> tuple[dict, Step]:
        """Clip and step after *run*; the new parameters and what the iteration leaves."""
        grads = {n: run[keys.grad_param(n)] for n in self.names}
        norms = {n: optim.param_norm(g) for n, g in grads.items()}
        dtype = next(iter(grads.values())).dtype
        total = optim.global_norm(list(norms.values()), dtype)
        after, acted = total, False
        if self.cfg.clip is not None:
            grads, acted = optim.clip(self.cfg.clip, grads, total)
            after = optim.global_norm([optim.param_norm(g) for g in grads.values()], dtype)
        new = optim.step(self.cfg.optimizer, params, grads, state, lr=self.rates[k])
        ratio, sizes = {}, {}
        for n in self.names:
            size = sizes[n] = optim.param_norm(params[n])
            moved = optim.param_norm(new[n] - params[n])
            ratio[n] = moved / size if size != 0 else (np.asarray(np.inf, dtype) if moved != 0 else np.zeros((), dtype))
        from rnntui.engine.graph_diag import carries

        bptt = {p.prefix: run[p.diag_key("gradnorm")] for p in run.info.places    # a graph's recurrences too
                if p.recurrent or carries(run.info.entries[p.entry])}
        loss = run[keys.LOSS]
        finite = bool(np.isfinite(loss)) and bool(np.isfinite(total))
        return new, Step(loss, total, after, acted, norms, ratio, sizes, bptt, finite, self.rates[k])

    def iterate(self, k: int, params: dict, state: optim.State, buffers: dict) -> tuple[Trace, dict, Step, dict]:
        run = self._run(params, buffers, k)
        new, step = self._update(run, params, state, k)
        self._remember(k, run)
        return run, new, step, self._buffers_after(run, buffers)

    def _advance(self, k: int, params: dict, state: optim.State, buffers: dict) -> tuple[dict, dict]:
        """Iteration k's update alone, on the way to a later iteration (its record is not kept)."""
        run = self._run(params, buffers, k)
        new, _ = self._update(run, params, state, k)
        return new, self._buffers_after(run, buffers)

    def _remember(self, k: int, run: Trace) -> None:
        self.recent[k] = run
        self.recent.move_to_end(k)
        while len(self.recent) > self.cached:
            self.recent.popitem(last=False)

    # --- the whole run --------------------------------------------------------------------------
    def train(self) -> "TrainTrace":
        N = self.cfg.iterations
        params, state, buffers = self.checkpoints[0][0], optim.State(), self.checkpoints[0][2]
        steps: list[Step] = []
        first_bad = None
        run = None
        near = N - self.cached   # iterations from here on: their starting point kept (`near`)
        for k in range(N):
            if k and k % self.every == 0:
                self.checkpoints[k] = (params, state.copy(), buffers)
            before = self.last_before = (params, buffers)
            if near <= k < N - 1:
                self.near[k] = before
            # only the last iteration's record is shown at once: every other runs lean (no per-step norms)
            last = k == N - 1
            with (nullcontext() if last else recording.lean()):
                run, params, step, buffers = self.iterate(k, params, state, buffers)
            if not last:
                self.recent.pop(k, None)   # a lean record is not what iteration(k) returns
            steps.append(step)
            if first_bad is None and not step.finite:
                # where the inf or NaN reached, in the full record (a lean run lists fewer keys)
                full = run if last else self._run(*before, k)
                first_bad = (k, int(full[keys.NONFINITE_FIRST_STEP]), [str(v) for v in full[keys.NONFINITE_KEYS]])
        return train_trace(run, self, steps, params, first_bad, buffers)

    # --- kept on disk (engine/train_cache.py) -------------------------------------------------------
    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        """The checkpoints, and the parameters and buffers the last iteration ran with, as named arrays."""
        out = {"ckpt|every": np.asarray(self.every, dtype=np.int64)}
        for k, (params, state, buffers) in self.checkpoints.items():
            out.update({f"ckpt|{k}|param|{n}": v for n, v in params.items()})
            out.update({f"ckpt|{k}|buffer|{n}": np.asarray(v) for n, v in buffers.items()})
            out.update({f"ckpt|{k}|opt|{b}|{n}": v for n, bufs in state.buffers.items() for b, v in bufs.items()})
            out[f"ckpt|{k}|step"] = np.asarray(state.step, dtype=np.int64)
        params, buffers = self.last_before
        out.update({f"last|param|{n}": v for n, v in params.items()})
        out.update({f"last|buffer|{n}": np.asarray(v) for n, v in buffers.items()})
        return out

    def restore(self, arrays: dict[str, np.ndarray]) -> Trace:
        """Take the checkpoints of *arrays*; return the last iteration's record, recomputed from them."""
        self.every = int(arrays["ckpt|every"])
        found: dict[int, tuple[dict, optim.State, dict]] = {}
        last: tuple[dict, dict] = ({}, {})
        for key, value in arrays.items():
            parts = key.split("|")
            if parts[0] == "last":
                last[0 if parts[1] == "param" else 1][parts[2]] = value
            elif parts[0] == "ckpt" and len(parts) > 2:
                params, state, buffers = found.setdefault(int(parts[1]), ({}, optim.State(), {}))
                if parts[2] == "param":
                    params[parts[3]] = value
                elif parts[2] == "buffer":
                    buffers[parts[3]] = value
                elif parts[2] == "opt":
                    state.buffers.setdefault(parts[4], {})[parts[3]] = value.copy()   # changed in place later
                else:
                    state.step = int(value)
        self.checkpoints = found
        self.last_before = last
        N = self.cfg.iterations
        run = self._run(last[0], last[1], N - 1)
        self._remember(N - 1, run)
        return run

    def iteration(self, k: int) -> Trace:
        """Iteration k's full record: from the cache, or recomputed from the checkpoint at or before k."""
        N = self.cfg.iterations
        if not 0 <= k < N:
            raise IndexError(f"iteration {k} out of range: the run has iterations 0..{N - 1}")
        if k in self.recent:
            self.recent.move_to_end(k)
            return self.recent[k]
        if k in self.near:   # one of the last few: one run from the parameters and buffers it started from
            with np.errstate(all="ignore"):
                report(f"iteration {k}", 0, 1)
                run = self._run(*self.near[k], k)
            self._remember(k, run)
            return run
        c = (k // self.every) * self.every
        params, state, buffers = self.checkpoints[c]
        state = state.copy()
        with np.errstate(all="ignore"):
            with recording.lean():   # the iterations on the way are not kept
                for i in range(c, k):
                    report(f"iteration {k}", i - c, k - c + 1)  # where a caller's listener may also stop it
                    params, buffers = self._advance(i, params, state, buffers)
            report(f"iteration {k}", k - c, k - c + 1)
            run = self._run(params, buffers, k)
        self._remember(k, run)
        return run


class TrainTrace(Trace):
    """The trace of a training run: the `train.*` keys and the last iteration's record (docs)."""

    def __init__(self, last: Trace, trainer: Trainer, steps: list[Step], final: dict, first_bad,
                 final_buffers: dict | None = None):
        arrays = dict(last._arrays)
        arrays.update(_train_arrays(trainer, steps, final, first_bad))
        for name, value in (final_buffers or {}).items():
            arrays[keys.train_final_buffer(name)] = value
        super().__init__(arrays, last.info, dict(last._derived))
        self._trainer = trainer

    @property
    def iterations(self) -> int:
        """How many iterations the run has (0 .. iterations - 1)."""
        return self._trainer.cfg.iterations

    @property
    def train_config(self) -> optim.TrainConfig:
        return self._trainer.cfg

    @property
    def record_iteration(self) -> int:
        """The iteration whose full record this trace's own keys hold: the last."""
        return self.iterations - 1

    @property
    def checkpoint_every(self) -> int:
        return self._trainer.every

    def iteration(self, k: int) -> Trace:
        """Iteration k's full record, as a plain run with the parameters after k updates records it."""
        return self._trainer.iteration(k)

    def is_cached(self, k: int) -> bool:
        """Whether `iteration(k)` returns at once (otherwise it recomputes: one run for the few iterations before
        the last, up to `checkpoint_every` runs for the others)."""
        return k in self._trainer.recent


def train_trace(last: Trace, trainer: Trainer, steps: list[Step], final: dict, first_bad,
                final_buffers: dict | None = None) -> TrainTrace:
    """The TrainTrace of a run whose last iteration recorded *last* (checkpointed or whole)."""
    if not isinstance(last, CheckpointedTrace):
        return TrainTrace(last, trainer, steps, final, first_bad, final_buffers)
    extra = _train_arrays(trainer, steps, final, first_bad)
    extra.update({keys.train_final_buffer(name): value for name, value in (final_buffers or {}).items()})
    return _checkpointed_train_trace(last, trainer, extra)


def _checkpointed_train_trace(last, trainer: Trainer, extra: dict) -> TrainTrace:
    """A TrainTrace whose last iteration's record is checkpointed: that record's segments, recomputed when read,
    and the `train.*` keys (*extra*) beside its small arrays."""
    trace = CheckpointedTrainTrace(dict(last._arrays, **extra), last.info, dict(last._derived), last.segments,
                                   last.big, last.limit, rows=last.rows)
    trace.recording = last.recording
    trace._trainer = trainer
    return trace


class CheckpointedTrainTrace(TrainTrace, CheckpointedTrace):
    """A training run whose last iteration's record is checkpointed (`train_trace`): the `train.*` keys and that
    record's small arrays held, its per-step arrays recomputed per segment (engine/checkpoint.py); any other
    iteration is recomputed as a training run recomputes them (checkpointed too)."""

    __init__ = CheckpointedTrace.__init__


def restored_trace(last: Trace, trainer: Trainer, arrays: dict[str, np.ndarray]) -> TrainTrace:
    """A TrainTrace from the kept `train.*` arrays and the last iteration's recomputed record."""
    if isinstance(last, CheckpointedTrace):
        return _checkpointed_train_trace(last, trainer, {k: v for k, v in arrays.items()
                                                        if k.startswith(keys.TRAIN_PREFIX)})
    trace = TrainTrace.__new__(TrainTrace)
    merged = dict(last._arrays)
    merged.update({k: v for k, v in arrays.items() if k.startswith(keys.TRAIN_PREFIX)})
    Trace.__init__(trace, merged, last.info, dict(last._derived))
    trace._trainer = trainer
    return trace


def with_record_of(training, k: int) -> SavedTrainTrace:
    """What `export --iteration k -o run.npz` saves: iteration k's full record under the usual keys, the
    run's `train.*` keys (every iteration's numbers, the trained parameters) beside it, and
    `train.record_iteration` = k, so the file read back says which iteration its record is."""
    record = training if k == training.record_iteration else training.iteration(k)
    arrays = {key: value for key, value in record._arrays.items() if not key.startswith(keys.TRAIN_PREFIX)}
    arrays.update({key: value for key, value in training._arrays.items() if key.startswith(keys.TRAIN_PREFIX)})
    arrays[keys.TRAIN_RECORD_ITERATION] = np.asarray(k, dtype=np.int64)
    if isinstance(record, CheckpointedTrace):   # a checkpointed record: its segments, recomputed when read
        from rnntui.engine.checkpoint_kinds import SavedCheckpointedTrainTrace

        saved = SavedCheckpointedTrainTrace(arrays, record.info, dict(record._derived), record.segments, record.big,
                                            record.limit, rows=record.rows)
        saved.recording = record.recording
        return saved
    return SavedTrainTrace(arrays, record.info, dict(record._derived))


def _dropout_places(sc) -> list[tuple[str, object, float]]:
    """(mask key, shape for a batch of B, p) of every dropout the model has: dropout entries, and the
    inputs of the sub-layers above the first of a recurrent entry with `dropout`."""
    from rnntui.engine.entries.dropout import mask_key
    from rnntui.engine.entries.recurrent import dropout_mask_key

    out = []
    def shape(e, feat: tuple):
        return lambda B: ((e.steps, B) if e.seq_in else (B,)) + feat

    for e in sc.layout:
        if e.type == "dropout" and e.dropout > 0:
            out.append((mask_key(e.index), shape(e, tuple(e.in_feat)), e.dropout))
        elif e.recurrent and e.dropout > 0:
            width = e.hidden_size * len(e.directions)
            out += [(dropout_mask_key(e.index, j), shape(e, (width,)), e.dropout) for j in range(1, e.num_layers)]
    refused = untrainable_dropout(sc.layout, sc.feed == "output", sc.decoder_x is not None)
    if refused is not None:
        raise ScenarioError([Problem(sc.file, None, None, f"{keys.entry_prefix(refused[0])}.{refused[1]}", refused[2])])
    return out


def untrainable_dropout(layout, generator: bool, decoder: bool) -> tuple[int, str, str] | None:
    """(entry index, scenario key, message) of the first dropout a training run cannot draw masks for: a
    generator (feed: output) and an encoder-decoder run step by step or in two parts, which the masks
    (one per iteration, drawn for the whole input) do not follow. None where there is none."""
    if not (generator or decoder):
        return None
    for e in layout:
        key = "p" if e.type == "dropout" else "dropout" if e.recurrent and e.num_layers > 1 else None
        if key is not None and e.dropout > 0:
            what = "a generator (feed: output)" if generator else "an encoder-decoder"
            return e.index, key, (
                f"dropout in training runs in the many-to-many, many-to-one and one-to-many (feed: zeros) modes; "
                f"this scenario is {what}: remove the dropout ({keys.entry_prefix(e.index)}, {e.type}) or the train: section")
    return None


def _train_arrays(trainer: Trainer, steps: list[Step], final: dict, first_bad) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        keys.TRAIN_LOSS: np.array([s.loss for s in steps]),
        keys.TRAIN_GRADNORM: np.array([s.gradnorm for s in steps]),
        keys.TRAIN_GRADNORM_CLIPPED: np.array([s.gradnorm_clipped for s in steps]),
        keys.TRAIN_CLIPPED: np.array([s.clipped for s in steps], dtype=bool),
        keys.TRAIN_CHECKPOINT_EVERY: np.asarray(trainer.every, dtype=np.int64),
        keys.TRAIN_RECORD_ITERATION: np.asarray(len(steps) - 1, dtype=np.int64),   # whose record the other keys are
        keys.TRAIN_LR: np.array([s.lr for s in steps], dtype=np.float64),
        keys.TRAIN_CONFIG: np.asarray(trainer.cfg.to_json()),   # the setup, for a report of the saved file
    }
    if trainer.batches is not None:   # each iteration's samples, -1 where a smaller last minibatch ends
        width = max(b.size for b in trainer.batches)
        out[keys.TRAIN_BATCH] = np.array([np.pad(b, (0, width - b.size), constant_values=-1) for b in trainer.batches],
                                      dtype=np.int64)
    for n in trainer.names:
        out[keys.train_gradnorm_param(n)] = np.array([s.param_gradnorm[n] for s in steps])
        out[keys.train_update_ratio(n)] = np.array([s.update_ratio[n] for s in steps])
        out[keys.train_param_norm(n)] = np.array([s.param_norm[n] for s in steps])
        out[keys.train_final_param(n)] = final[n]
    for prefix in steps[0].bptt:
        out[keys.train_bptt(prefix)] = np.stack([s.bptt[prefix] for s in steps])
    k, step, bad = -1, -1, []
    if first_bad is not None:
        k, step, bad = first_bad
    out[keys.TRAIN_NONFINITE_ITERATION] = np.asarray(k, dtype=np.int64)
    out[keys.TRAIN_NONFINITE_STEP] = np.asarray(step, dtype=np.int64)
    out[keys.TRAIN_NONFINITE_KEYS] = np.asarray(bad, dtype=str) if bad else np.zeros(0, dtype="<U1")
    return out


def train_scenario(sc, max_memory: int | None = None, recording: str | None = None) -> TrainTrace:
    """Train, or read the same run back from the disk cache (engine/train_cache.py). *recording*: "full" or
    "checkpointed" for every iteration's run instead of the memory limit's choice (the numbers are the same)."""
    from rnntui.engine import train_cache

    trainer = Trainer(sc, max_memory, recording)
    # the checkpoints' spacing is part of the key: it follows the memory limit, and a run read back must hold
    # no more checkpoints than this limit allows
    # and so is the path the step loops take (the fused one agrees with NumPy's to rounding, not to the bit)
    key = train_cache.fingerprint(sc, extra=f"every={trainer.every} path={fused.describe()}")
    with np.errstate(all="ignore"):  # a diverging run records where it left the finite numbers
        kept = train_cache.load(key)
        if kept is not None:
            try:
                return restored_trace(trainer.restore(kept), trainer, kept)
            except (KeyError, ValueError, IndexError):   # a file of another layout: train again, write it anew
                trainer = Trainer(sc, max_memory, recording)
        trace = trainer.train()
    if not any("|" in name for name in trainer.names + list(trainer.plain.buffers)):   # "|" separates parts
        arrays = {k: v for k, v in trace._arrays.items() if k.startswith(keys.TRAIN_PREFIX)}
        arrays.update(trainer.checkpoint_arrays())
        train_cache.store(key, arrays)
    return trace
