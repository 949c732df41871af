"""A folder of iterations recorded from the user's own training loop (`rnntui.record`), opened as a
training run: its iterations are the records, in the order of their step numbers.

Every record is a saved trace with `record.*` keys (torch_bridge/record.py). The run's `train.*` keys are
gathered from those small keys alone (each file's loss, norms and BPTT profile, read without reading its
records), so a folder of many records opens quickly; `iteration(k)` reads record k whole (a few kept).
What the loop did between records (other steps, the optimizer's state) is not in the folder: the
iterations are the recorded ones, `train.step` names each one's step in the user's loop, and an
iteration's update is the one the user's optimizer made (`record.update_norm.*`; nan where the loop never
said, for a record made without `with` or `optimizer=`).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from rnntui.engine import keys
from rnntui.engine.memory import available_memory
from rnntui.engine.trace import IterationNotKept, Trace, TraceInfo
from rnntui.engine.trace_file import read_trace
from rnntui.errors import Problem, ScenarioError
from rnntui.npyfiles import ArrayFileError, npz_names, read_npz

PATTERN = "step-*.npz"
KEPT = 4   # records held at once while stepping through iterations


def record_files(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob(PATTERN))


def is_recorded_run(path) -> bool:
    """A folder holding records of rnntui.record (any other folder is refused as a trace file is)."""
    try:
        return Path(path).is_dir() and any(Path(path).glob(PATTERN))
    except OSError:
        return False


def _small_keys(names: list[str]) -> list[str]:
    """What the run's curves need of a record: its loss, its `record.*` norms, its BPTT profile, where it
    stopped being finite."""
    return [n for n in names if n == "loss" or n.startswith(("record.", keys.NONFINITE_PREFIX))
            or (n.startswith(keys.DIAG_PREFIX) and n.endswith(".gradnorm"))]


def load_recorded(folder: Path, max_memory: int | None = None) -> "RecordedRun":
    limit = available_memory() // 2 if max_memory is None else max_memory
    files = record_files(folder)
    if not files:
        raise ScenarioError([Problem(str(folder), None, None, "", (
            f"no recorded iterations ({PATTERN}) in this folder; expected a folder written by rnntui.record"))])
    small = []
    for path in files:
        try:
            names = npz_names(path)
            small.append(read_npz(path, _small_keys(names), limit, kinds="biufU"))
        except (ArrayFileError, OSError) as exc:
            raise ScenarioError([Problem(str(path), None, None, "", f"cannot read this record: {exc}")]) from None
        if "record.step" not in small[-1]:
            raise ScenarioError([Problem(str(path), None, None, "", "not a record of rnntui.record: no record.step key")])
    steps = [int(s["record.step"]) for s in small]
    order = np.argsort(steps, kind="stable")
    files, small = [files[i] for i in order], [small[i] for i in order]
    last = read_trace(files[-1], max_memory=max_memory)
    arrays = dict(last._arrays)
    arrays.update(_train_arrays(small))
    return RecordedRun(arrays, last.info, dict(last._derived), files=files, max_memory=max_memory)


def _train_arrays(small: list[dict]) -> dict[str, np.ndarray]:
    N = len(small)
    out = {keys.TRAIN_STEP: np.array([int(s["record.step"]) for s in small], dtype=np.int64),
           keys.TRAIN_LOSS: np.array([float(s["loss"]) for s in small]),
           keys.TRAIN_RECORD_ITERATION: np.asarray(N - 1, dtype=np.int64)}
    if all("record.lr" in s for s in small):
        out[keys.TRAIN_LR] = np.array([float(s["record.lr"]) for s in small])
    names = sorted({k[len("record.gradnorm."):] for s in small for k in s if k.startswith("record.gradnorm.")})
    nan = np.asarray(np.nan)
    for n in names:
        g = np.array([float(s.get(f"record.gradnorm.{n}", nan)) for s in small])
        p = np.array([float(s.get(f"record.param_norm.{n}", nan)) for s in small])
        u = np.array([float(s.get(f"record.update_norm.{n}", nan)) for s in small])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(p != 0, u / p, np.where(u > 0, np.inf, 0.0))
        ratio[np.isnan(u)] = np.nan
        out[keys.train_gradnorm_param(n)], out[keys.train_param_norm(n)], out[keys.train_update_ratio(n)] = g, p, ratio
    if names:
        out[keys.TRAIN_GRADNORM] = np.sqrt(sum(np.square(out[keys.train_gradnorm_param(n)]) for n in names))
    places = sorted({k for s in small for k in s if k.startswith(keys.DIAG_PREFIX) and k.endswith(".gradnorm")})
    for key in places:
        rows = [np.asarray(s.get(key, np.zeros(0)), dtype=np.float64) for s in small]
        width = max(r.size for r in rows)
        prefix = key[len(keys.DIAG_PREFIX):-len(".gradnorm")]
        out[keys.train_bptt(prefix)] = np.array([np.pad(r, (0, width - r.size), constant_values=np.nan) for r in rows])
    bad = [k for k, s in enumerate(small) if not np.isfinite(float(s["loss"]))]
    k = bad[0] if bad else -1
    out[keys.TRAIN_NONFINITE_ITERATION] = np.asarray(k, dtype=np.int64)
    out[keys.TRAIN_NONFINITE_STEP] = np.asarray(int(small[k].get(keys.NONFINITE_FIRST_STEP, -1)) if bad else -1,
                                             dtype=np.int64)
    names_bad = small[k].get(keys.NONFINITE_KEYS) if bad else None
    out[keys.TRAIN_NONFINITE_KEYS] = (np.asarray(names_bad, dtype=str) if names_bad is not None and np.size(names_bad)
                                   else np.zeros(0, dtype="<U1"))
    return out


class RecordedRun(Trace):
    """Recorded iterations as a training run (the `train.*` keys; the last record's own keys)."""

    def __init__(self, arrays: dict, info: TraceInfo, derived: dict, *, files: list[Path], max_memory=None):
        super().__init__(arrays, info, derived)
        self._files, self._max_memory = files, max_memory
        self._kept: OrderedDict[int, Trace] = OrderedDict()

    @property
    def iterations(self) -> int:
        return len(self._files)

    @property
    def record_iteration(self) -> int:
        return self.iterations - 1

    def is_cached(self, k: int) -> bool:
        return k == self.record_iteration or k in self._kept

    def iteration(self, k: int) -> Trace:
        """Record k (in step order), read from its file."""
        if not 0 <= k < self.iterations:
            raise IndexError(f"iteration {k} out of range: the folder has records 0..{self.iterations - 1}")
        if k == self.record_iteration:
            return self
        if k not in self._kept:
            try:
                self._kept[k] = read_trace(self._files[k], max_memory=self._max_memory)
            except ScenarioError as exc:
                raise IterationNotKept(str(exc)) from None
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        self._kept.move_to_end(k)
        return self._kept[k]


__all__ = ["RecordedRun", "load_recorded", "record_files"]
