"""`RunContext`: what one run needs, in one object, instead of keyword arguments threaded through
every layer.

A walk over the model (network.Walk for a chain, graph.GraphWalk for a graph) makes one and hands it
to what it runs: the dtype, whether this is a training iteration, the buffers (state that is no
parameter), the dropout masks of a training iteration, each sample's length, the interventions of a
what-if and the initial states. Each entry's handler receives it whole (`Handler.forward(info, x, params,
rec, ctx)`) and reads what it uses: a recurrent entry its lengths, initial states, interventions and
dropout masks, a dropout its masks, a batchnorm its buffers and `training`; the rest nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHAIN_INPUT = ""   # a chain's one input has no name: its lengths sit under this key (its entries' lengths_of is "")


@dataclass
class RunContext:
    params: dict                                  # parameter name -> array (the run's dtype)
    dtype: np.dtype = np.dtype("float64")
    training: bool = False                        # a training iteration (batch statistics, dropout masks)
    buffers: dict = field(default_factory=dict)   # state that is no parameter (batchnorm's running_*)
    masks: dict | None = None                     # dropout masks by trace key (training only)
    lengths: dict = field(default_factory=dict)   # input name -> (B,) lengths, for inputs of different lengths
    plan: object = None                           # interventions (engine/whatif.py), or None
    initial: dict = field(default_factory=dict)   # entry index -> initial states (PyTorch's h_0, c_0)
    rec: dict | None = None                       # where the node running now records (a graph walk sets it)
    grads: dict | None = None                     # parameter gradients of the backward pass running now
    puts: dict = field(default_factory=dict)      # what-if overwrites of the step a graph walk runs now (a cell's gates)

    @classmethod
    def chain(cls, params: dict, lengths=None, initial: dict | None = None, plan=None, masks: dict | None = None,
              buffers: dict | None = None, training: bool = False, dtype=None) -> "RunContext":
        """A chain's run: *lengths* (B,) each sample's own length (None: all T), the rest as the fields say."""
        return cls(params, dtype=np.dtype(dtype or "float64"), training=training, buffers=buffers or {},
                   masks=masks, lengths={} if lengths is None else {CHAIN_INPUT: lengths}, plan=plan,
                   initial=initial or {})

    def lengths_for(self, info) -> np.ndarray | None:
        """Each sample's own length along the steps entry *info* runs over (None: every sample has every step)."""
        return self.lengths.get(info.lengths_of)
