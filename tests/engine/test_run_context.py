"""Every handler receives the run's one RunContext (engine/context.py) and reads what it uses of it: no
keyword arguments selected by calling flags (the former takes_lengths/takes_masks/takes_buffers)."""
from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np

from rnntui.engine.context import CHAIN_INPUT, RunContext
from rnntui.engine.entries.base import Handler
from rnntui.engine.handlers import EVERY
from rnntui.engine.layout import EntryInfo


def test_every_module_handler_takes_the_context_and_no_calling_flag():
    for name, hd in EVERY.items():
        assert not any(hasattr(hd, f) for f in ("takes_lengths", "takes_masks", "takes_buffers")), name
        if hd.is_op or type(hd).forward is Handler.forward:
            continue
        ps = list(inspect.signature(hd.forward).parameters)
        assert ps[:5] == ["info", "x", "params", "rec", "ctx"], (name, ps)
        assert all(p == "changed" for p in ps[5:]), (name, ps)   # what a walk knows of x, not of the run


def test_a_chain_context_gives_its_lengths_to_its_entries_and_a_graph_context_by_input():
    lengths = np.array([3, 1])
    chain = RunContext.chain({}, lengths)
    entry = EntryInfo(0, "lstm", (2,), (3,), True, True)
    assert chain.lengths == {CHAIN_INPUT: lengths} and chain.lengths_for(entry) is lengths
    assert RunContext.chain({}).lengths_for(entry) is None
    graph = RunContext({}, lengths={"src": lengths})
    assert graph.lengths_for(entry) is None                           # a node whose steps follow no input
    assert graph.lengths_for(replace(entry, lengths_of="src")) is lengths
