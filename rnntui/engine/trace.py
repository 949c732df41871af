"""The immutable record of one run: read-only arrays by the keys of docs/trace-format.md.

Diagnostics (`diag.*`) are derived from the recorded arrays when first read, so a
run pays for them only if someone looks; `save` writes them too.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class EntryInfo:
    index: int
    type: str
    seq_out: bool
    hidden_size: int = 0
    num_layers: int = 0
    directions: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()
    merge: str = "concat"
    nonlinearity: str = "tanh"
    activation: str = "none"
    reduce_final: bool = False
    params: tuple[str, ...] = ()
    options: dict | None = None   # conv and pool: kernel, stride, dilation, pad, groups, dims, on_seq
    out_shape: tuple = ()         # per sample (and per step for sequences)
    steps: int = 1                # steps this entry runs over (a strided conv1d shortens later ones)

    @property
    def recurrent(self) -> bool:
        return self.type in ("rnn", "lstm", "gru")

    @property
    def spatial(self) -> bool:
        """Conv and pool entries: outputs are feature maps over positions."""
        return self.options is not None


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

    def to_json(self) -> str:
        d = {k: getattr(self, k) for k in ("name", "description", "mode", "dtype", "loss", "file", "T", "B", "seq")}
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
        return cls(entries=entries, **d)


def _freeze(a) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


class Trace(Mapping):
    """Read-only mapping of key -> ndarray, with `info` describing the model."""

    def __init__(self, arrays: dict[str, np.ndarray], info: TraceInfo,
                 derived: dict[str, Callable[[], np.ndarray]] | None = None):
        self._arrays = {k: _freeze(v) for k, v in arrays.items()}
        self._derived = dict(derived or {})
        self.info = info

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self._arrays:
            return self._arrays[key]
        if key in self._derived:
            with np.errstate(all="ignore"):  # diagnostics of an overflowed run are inf/nan, said elsewhere
                value = _freeze(self._derived.pop(key)())
            self._arrays[key] = value
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

    def __repr__(self) -> str:
        return f"<Trace {self.info.name!r}: {len(self)} arrays>"

    def save(self, path: str | Path) -> None:
        """Write every key to one .npz, atomically (docs/trace-format.md)."""
        from rnntui.atomic import atomic_write

        arrays = {k: np.asarray(self[k]) for k in list(self)}  # keeps 0-d arrays 0-d
        with atomic_write(path) as f:
            np.savez(f, **arrays)


def load_trace(path: str | Path) -> Trace:
    """Open a saved trace without recomputing anything."""
    from rnntui.engine.trace_check import check_trace
    from rnntui.errors import Problem, ScenarioError

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.keys()}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ScenarioError([Problem(str(path), None, None, "", f"cannot read this trace: {exc}")]) from None
    check_trace(arrays, str(path))  # layout and arrays, before anything reads them
    if "meta.layout" not in arrays:
        raise ScenarioError([Problem(str(path), None, None, "", "not an rnntui trace: no meta.layout key")])
    info = TraceInfo.from_json(str(arrays["meta.layout"]))
    return Trace(arrays, info)
