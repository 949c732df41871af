"""Run a loaded scenario: its training iterations when it has `train:` (engine/train.py, a TrainTrace), else one
run (engine/run.py). Above both, so that training's iterations, each one run, import run.py and not this."""
from __future__ import annotations

from rnntui.engine.run import run_once
from rnntui.engine.trace import Trace
from rnntui.engine.train import train_scenario


def run_scenario(sc, max_memory: int | None = None, iteration: int | None = None,
                 recording: str | None = None) -> Trace:
    """Run forward and backward; raise ScenarioError if the trace would not fit in memory and cannot be
    checkpointed (engine/checkpoint.py). A scenario with `train:` runs its iterations (engine/train.py) and
    returns a TrainTrace. *iteration*: the training iteration this run is (engine/train.py), recorded as
    `meta.iteration`. *recording*: "full" or "checkpointed" instead of the memory limit's choice."""
    if getattr(sc, "train", None) is not None:
        return train_scenario(sc, max_memory, recording)
    return run_once(sc, max_memory, iteration, recording)
