"""One iteration of a training run as a scenario of its own: what `W` writes from a training iteration.

Iteration k of a `train:` scenario runs the scenario with the parameters (and batchnorm buffers) after k
updates. A scenario that reproduces what the screen shows therefore keeps everything but `train:`, reads
its weights from a file holding iteration k's parameters and buffers (`init: none`: nothing else), and
runs the batch statistics a training iteration uses (`batch_stats: true` on batchnorm entries). Two
things a scenario without `train:` cannot express are refused, with the reason, rather than written as a
different experiment: an iteration that read a minibatch (`train.batch_size`), and one with dropout
masks (an iteration draws its own; a run without `train:` has none).
"""
from __future__ import annotations

import numpy as np

from rnntui.engine import keys
from rnntui.errors import RnntuiError


class NotWritable(RnntuiError):
    """A training iteration that no scenario without `train:` reproduces."""

    title = "cannot write this iteration"


def iteration_arrays(record) -> dict[str, np.ndarray]:
    """The parameters and buffers iteration k ran with, by their weight-file names."""
    out = {k[len(keys.PARAM_PREFIX):]: np.asarray(record[k]) for k in record if k.startswith(keys.PARAM_PREFIX)}
    out.update({k[len(keys.BUFFER_PREFIX):]: np.asarray(record[k]) for k in record if k.startswith(keys.BUFFER_PREFIX)})
    return out


def iteration_scenario(data: dict, record, k: int, training, weights_file: str) -> dict:
    """*data* (the training scenario, as loaded for a round trip) changed in place into iteration k's own
    scenario; *weights_file*: where `iteration_arrays(record)` will be written, relative to the new file."""
    if keys.TRAIN_BATCH in training:
        raise NotWritable(f"iteration {k} read a minibatch (train.batch_size), and a scenario without train: "
                          "reads its whole batch; write the iteration's trace with e instead")
    if any(key.endswith(".mask") or key.endswith(".dropout_mask") for key in record):
        raise NotWritable(f"iteration {k} drew dropout masks, which a scenario without train: does not have "
                          "(dropout is off outside training); write the iteration's trace with e instead")
    data.pop("train", None)
    data["weights"] = {"init": "none", "file": weights_file}
    for entry in data.get("model", []):
        if isinstance(entry, dict) and str(entry.get("type", "")).startswith("batchnorm"):
            entry["batch_stats"] = True   # a training iteration normalises with the batch's statistics
    name = str(data.get("name") or "scenario")
    N = int(training[keys.TRAIN_LOSS].shape[0])
    said = (f"Iteration {k} of {N} of the training run '{name}': its parameters after {k} updates "
            f"({weights_file}), run once without train:.")
    old = str(data.get("description") or "").strip()
    data["name"] = f"{name}, iteration {k}"
    data["description"] = said + (f" The run's description: {old}" if old else "")
    return data


__all__ = ["NotWritable", "iteration_arrays", "iteration_scenario"]
