"""A trace read back from a saved .npz (`read_trace`): checked before anything reads it (engine/trace_check.py),
a training run's file as a `SavedTrainTrace` (its iterations' numbers and one iteration's record). A folder of
recorded iterations is engine/recorded.py's; `engine.load.load_trace` opens either."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rnntui.engine import keys, optim
from rnntui.engine.diagnostics import lazy_jacnorms
from rnntui.engine.memory import available_memory
from rnntui.engine.trace import IterationNotKept, Trace, TraceInfo
from rnntui.engine.trace_check import check_trace
from rnntui.errors import Problem, ScenarioError
from rnntui.npyfiles import ArrayFileError, read_npz


class SavedTrainTrace(Trace):
    """A training run read back from a saved trace: the `train.*` keys (every iteration's numbers) and one
    iteration's full record (`train.record_iteration`: the last unless `export --iteration` chose another).
    The other iterations are recomputed from the scenario, which the file does not hold in a runnable form
    (its weight and input files stay where they were), so they are refused with words rather than made up."""

    @property
    def iterations(self) -> int:
        return int(self[keys.TRAIN_LOSS].shape[0])

    @property
    def record_iteration(self) -> int:
        """The iteration whose full record the file holds (files written before the key: the last)."""
        return int(self[keys.TRAIN_RECORD_ITERATION]) if keys.TRAIN_RECORD_ITERATION in self else self.iterations - 1

    def is_cached(self, k: int) -> bool:
        return k == self.record_iteration

    @property
    def train_config(self) -> optim.TrainConfig | None:
        """The run's optimizer, schedule, clipping and batches (None in files written before the key)."""
        if keys.TRAIN_CONFIG not in self:
            return None
        return optim.TrainConfig.from_json(str(self[keys.TRAIN_CONFIG]))

    def iteration(self, k: int) -> Trace:
        kept = self.record_iteration
        if k == kept:
            return self
        which = " (the last)" if kept == self.iterations - 1 else \
            f" (chosen with export --iteration; the run has iterations 0..{self.iterations - 1})"
        raise IterationNotKept(f"this saved trace keeps the record of iteration {kept} only{which}; run the "
                               f"scenario ({self.info.name}) to step to iteration {k}")


def read_trace(path: str | Path, max_memory: int | None = None) -> Trace:
    """Open a saved trace (.npz) without recomputing anything.

    Members are read one by one after their headers (rnntui/npyfiles.py): one that declares more
    than its zip entry holds (a zip bomb) or more than *max_memory* bytes in all (default: half the
    available memory) is refused before it is inflated."""
    limit = available_memory() // 2 if max_memory is None else max_memory
    try:
        arrays = read_npz(Path(path), None, limit, kinds="biufU")  # text: names, the scenario, the layout
    except (ArrayFileError, OSError) as exc:
        raise ScenarioError([Problem(str(path), None, None, "", f"cannot read this trace: {exc}")]) from None
    from rnntui.engine import checkpoint

    # layout and arrays, before anything reads them (a checkpointed trace's recomputed arrays by their shapes)
    check_trace({**arrays, **checkpoint.placeholders(arrays, path)}, str(path))
    if keys.META_LAYOUT not in arrays:
        raise ScenarioError([Problem(str(path), None, None, "", "not an rnntui trace: no meta.layout key")])
    info = TraceInfo.from_json(str(arrays[keys.META_LAYOUT]))
    # packed when some sample stops before the input's last step (the first entry runs over the input)
    if info.seq and keys.META_LENGTHS in arrays and (arrays[keys.META_LENGTHS] < info.entries[0].steps).any():
        info = replace(info, lengths=tuple(int(n) for n in arrays[keys.META_LENGTHS]))
    derived = {}
    if keys.META_NOT_COMPUTED in arrays:
        derived = lazy_jacnorms(info, arrays, set(arrays[keys.META_NOT_COMPUTED].tolist()))
    if checkpoint.is_checkpointed(arrays):   # the boundaries of a long run: its segments recomputed when read
        return checkpoint.restore(arrays, info, Path(path), limit)
    if keys.TRAIN_LOSS in arrays:   # a training run: its iterations' numbers, the last one's record
        return SavedTrainTrace(arrays, info, derived, Path(path))
    return Trace(arrays, info, derived, Path(path))
