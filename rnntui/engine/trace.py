"""The immutable record of one run: read-only arrays by the keys of docs/trace-format.md.

Diagnostics (`diag.*`) are derived from the recorded arrays when first read, so a
run pays for them only if someone looks; `save` writes them too.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rnntui.engine import keys
from rnntui.engine.keys import Place, places_of
from rnntui.engine.layout import EntryInfo


@dataclass(frozen=True)
class TraceInfo:
    """What a view needs to know about the run besides its arrays."""

    name: str
    description: str
    mode: str
    dtype: str
    loss: str
    file: str
    entries: tuple[EntryInfo, ...]
    T: int
    B: int
    seq: bool
    class_names: tuple[str, ...] | None = None   # labels of the output's classes, from the scenario
    events: tuple[tuple[str, float], ...] = ()   # event thresholds the scenario set (name, value)
    compare: str | None = None                   # the scenario's `compare:`: a run to open beside it
    lengths: tuple[int, ...] | None = None       # each sample's own length where one stops before T
    # (from meta.lengths, the one record of it: not in meta.layout)
    feed: str = "zeros"                          # one-to-many: what steps after the first read (zeros, or
    # "output": the previous step's output, or its arg-max id; see engine/generate.py)
    watch: tuple[str, ...] = ()                  # the scenario's debug.watch and debug.break expressions, for the
    breakpoints: tuple[str, ...] = ()            # debugger to open with (rnntui/expr; docs/debugger.md)
    inputs: tuple[str, ...] = ()                 # a graph model's named inputs (recorded as input.{name})

    def packs(self, entry) -> bool:
        """Whether *entry* runs over the packed input (an encoder-decoder's decoder has its own steps; a graph
        node, where it runs over the first input, whose lengths `lengths` are, with its samples' own lengths)."""
        if self.lengths is None:
            return False
        if self.inputs:
            return entry.lengths_of == self.inputs[0]
        return entry.part != "decoder"

    def length_of(self, sample: int) -> int:
        """How many real steps *sample* has: T, or its own length in a batch of different lengths."""
        return self.T if self.lengths is None else self.lengths[sample]

    @cached_property
    def places(self) -> tuple[Place, ...]:
        """Every place a cursor can be, in order: each sub-layer and direction of a recurrent entry,
        every other entry whole."""
        return places_of(self.entries)

    def to_json(self) -> str:
        d = {k: getattr(self, k) for k in ("name", "description", "mode", "dtype", "loss", "file", "T", "B", "seq",
                                          "class_names", "events", "feed", "compare", "watch", "breakpoints")}
        if self.inputs:
            d["inputs"] = self.inputs
        d["entries"] = [e.__dict__ for e in self.entries]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "TraceInfo":
        d = json.loads(text)

        def tuples(v):
            """JSON has only lists: give back the tuples (and tuples inside dicts) that were saved."""
            if isinstance(v, list):
                return tuple(tuples(x) for x in v)
            if isinstance(v, dict):
                return {k: tuples(x) for k, x in v.items()}
            return v

        entries = tuple(EntryInfo(**{k: tuples(v) for k, v in e.items()}) for e in d.pop("entries"))
        for key in ("class_names", "events", "watch", "breakpoints", "inputs"):
            if key in d and d[key] is not None:
                d[key] = tuples(d[key])
        return cls(entries=entries, **d)


def _freeze(a) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


REPRESENTERS: dict[str, Callable] = {}
"""How a trace shows itself in a notebook ("rich": a renderable, "html": a fragment). The render layer
fills it (rnntui/__init__ does, when a trace is first made), so the engine imports nothing of the UI."""


@dataclass(frozen=True)
class Recording:
    """How a run was recorded, and why: whole (every array of every step in memory) or checkpointed (the
    states at segment boundaries and the small per-step arrays; a segment recomputed when read,
    engine/checkpoint.py). The memory limit decides (`--max-memory`)."""

    mode: str                      # "full" or "checkpointed"
    need: int                      # bytes a whole recording holds at its peak (its record and the working arrays of its
                                   # backward pass), estimated before anything was made: more than the record it keeps
    limit: int                     # the memory limit
    reason: str = ""               # why a run over the limit could not be checkpointed, or what a full run is
    segment_steps: int = 0         # a checkpointed run's segment length, and how many segments it has
    segments: int = 0
    reopened: bool = False         # read from a saved trace: the limit is the one it was recorded under
    steps: int = 0                 # the steps the segments cut (an encoder-decoder's: its encoder's; 0: a trace saved
                                   # before this was kept)

    @classmethod
    def reopened_from(cls, saved: dict) -> Recording:
        """The Recording a saved trace keeps (meta.checkpoint's "recording"), reopened: the limit is the one it was
        recorded under. ValueError naming the field that is not what rnntui writes (keys it does not know are
        left out)."""
        if saved.get("mode") not in ("full", "checkpointed"):
            raise ValueError("recording's mode: expected full or checkpointed")
        counts = {}
        for name in ("need", "limit", "segment_steps", "segments", "steps"):
            v = saved.get(name, 0)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"recording's {name}: expected a whole number from 0")
            counts[name] = v
        if not isinstance(saved.get("reason", ""), str):
            raise ValueError("recording's reason: expected text")
        return cls(saved["mode"], reason=saved.get("reason", ""), reopened=True, **counts)

    def words(self) -> str:
        """One line for the debugger's help, `rnntui show` and the header."""
        from rnntui.sizes import format_size

        if self.mode == "checkpointed":
            under = " it was recorded under" if self.reopened else ""
            last = self.steps - (self.segments - 1) * self.segment_steps   # a shorter last segment: said
            tail = f" (the last {last:,})" if self.steps and 0 < last < self.segment_steps else ""
            return (f"checkpointed: recording it whole would hold about {format_size(self.need)} at its peak "
                    f"(its record and its backward pass's working arrays), more than the memory limit of "
                    f"{format_size(self.limit)}{under}; {self.segments:,} segments of {self.segment_steps:,} steps"
                    f"{tail}, each recomputed exactly when read")
        words = (f"recorded whole: about {format_size(self.need)} at its peak (its record and its backward pass's "
                 "working arrays), within the memory limit (--max-memory)")
        return words + (f" ({self.reason})" if self.reason else "")


class Trace(Mapping):
    """Read-only mapping of key -> ndarray, with `info` describing the model."""

    recording: Recording | None = None
    """How the run was recorded (set by run_scenario; None for a trace read from a file)."""

    def __rich__(self):
        """Jupyter/IPython and rich: the name, the model, the loss and each place's gradient verdict."""
        show = REPRESENTERS.get("rich")
        return show(self) if show else repr(self)

    def _repr_html_(self) -> str | None:
        show = REPRESENTERS.get("html")
        return show(self) if show else None

    def __init__(self, arrays: dict[str, np.ndarray], info: TraceInfo,
                 derived: dict[str, Callable[[], np.ndarray]] | None = None, path: Path | None = None):
        self._arrays = {k: _freeze(v) for k, v in arrays.items()}
        self._derived = dict(derived or {})
        self.info = info
        self.path = path
        """The saved trace this was read from (`load_trace`); None for a run. `info.file` stays the scenario
        file the run was made from, as recorded then."""

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self._arrays:
            return self._arrays[key]
        if key in self._derived:
            with np.errstate(all="ignore"):  # diagnostics of an overflowed run are inf/nan, said elsewhere
                value = _freeze(self._derived[key]())
            # dropped only once computed: a derivation stopped part way (cancelled) can run again
            self._arrays[key] = value
            self._derived.pop(key, None)
            return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from list(self._arrays)
        yield from list(self._derived)

    def __len__(self) -> int:
        return len(self._arrays) + len(self._derived)

    def __contains__(self, key) -> bool:
        return key in self._arrays or key in self._derived

    def is_computed(self, key: str) -> bool:
        """Whether reading *key* costs nothing (recorded, or a diagnostic already derived)."""
        return key in self._arrays

    def steps(self, key: str, a: int, b: int) -> np.ndarray:
        """Steps a .. b-1 of a per-step array (axis 0): a checkpointed trace recomputes only the segments
        that hold them (engine/checkpoint.py); any other trace slices the whole array."""
        return self[key][a:b]

    def __repr__(self) -> str:
        return f"<Trace {self.info.name!r}: {len(self)} arrays>"

    def scenario_yaml(self) -> str:
        """The scenario text this run came from (`meta.scenario`): save it to run it again, or share it.
        A run made by `rnntui.from_torch` holds its weights and input inline, so its text is the whole run."""
        return str(self[keys.META_SCENARIO])

    def save_scenario(self, path: str | Path) -> None:
        """Write `scenario_yaml()` to *path*, atomically. A run of `rnntui.from_torch` whose parameters are too
        many to write inline (`beside`) has them written beside it, `<stem>.safetensors`, which the text then
        names."""
        from rnntui.atomic import atomic_write

        text = self.scenario_yaml()
        named, beside = getattr(self, "beside", None) or (None, None)   # (the name the text gives, the arrays)
        if beside:
            from safetensors.numpy import save as save_bytes

            name = Path(path).stem + ".safetensors"
            with atomic_write(Path(path).with_name(name)) as f:
                f.write(save_bytes({k: np.ascontiguousarray(v) for k, v in beside.items()}))
            text = text.replace(f"file: {json.dumps(named)}", f"file: {json.dumps(name)}", 1)
        with atomic_write(path) as f:
            f.write(text.encode("utf-8"))

    def save(self, path: str | Path, *, jacobian: bool | str = True) -> list[str]:
        """Write every key to one .npz, atomically (docs/trace-format.md).

        *jacobian*: False leaves out the diag.*.jacnorm keys not yet computed and lists them in
        `meta.not_computed` (load_trace derives them when first read); "auto" does so only when
        they would cost more than about a second (diagnostics.JACNORM_AUTO_LIMIT). Returns the keys
        left out."""
        from rnntui.engine import diagnostics
        from rnntui.engine.aside import Aside, aside
        from rnntui.npyfiles import write_npz

        if jacobian == "auto":
            jacobian = diagnostics.jacnorm_cost(self.info) <= diagnostics.JACNORM_AUTO_LIMIT
        jacnorms = [k for k in self._derived if k.endswith(".jacnorm")]
        skip = [] if jacobian else jacnorms
        later = [] if skip else jacnorms      # costly (seconds of GEMMs): computed while the rest is written
        arrays = {k: np.asarray(self[k]) for k in list(self)
                  if k not in skip and k not in later and k != keys.META_NOT_COMPUTED}
        if skip:
            arrays[keys.META_NOT_COMPUTED] = np.asarray(skip, dtype=str)

        if not later:
            write_npz(path, arrays.items())
            return skip

        def items(norms: Aside):
            yield from arrays.items()
            yield from norms.result().items()

        with aside(lambda: {k: np.asarray(self[k]) for k in later}) as norms:
            write_npz(path, items(norms))
        return skip


class TraceWrapper(Mapping):
    """A trace read through, never copied: the arrays of *whole* as a view shows them, under its own
    `info`. The one base of the wrappers around a trace (the TUI's `ShownTrace`, which cuts user text to
    a screenful; an encoder-decoder's `PartTrace`, which reads the decoder's input under the input's
    names): a subclass renames keys in `source_key` or shows a value differently in `__getitem__`."""

    def __init__(self, whole, info: TraceInfo | None = None):
        self.whole = whole
        self.info = whole.info if info is None else info

    @property
    def recording(self) -> Recording | None:
        """How the trace read through was recorded (whole or checkpointed), as `Trace.recording`."""
        return getattr(self.whole, "recording", None)

    def source_key(self, key: str) -> str:
        """The key of the whole trace that *key* reads: the same one, unless a subclass renames it."""
        return key

    def __getitem__(self, key: str) -> np.ndarray:
        return self.whole[self.source_key(key)]

    def __contains__(self, key) -> bool:
        return self.source_key(key) in self.whole

    def __iter__(self) -> Iterator[str]:
        return iter(self.whole)

    def __len__(self) -> int:
        return len(self.whole)

    def is_computed(self, key: str) -> bool:
        return self.whole.is_computed(self.source_key(key))

    def steps(self, key: str, a: int, b: int) -> np.ndarray:
        steps = getattr(self.whole, "steps", None)
        return self[key][a:b] if steps is None else steps(self.source_key(key), a, b)


class IterationNotKept(LookupError):
    """An iteration a saved training trace cannot give: it keeps the last iteration's record only."""
