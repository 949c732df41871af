"""The wrappers around a trace (the TUI's ShownTrace, an encoder-decoder's PartTrace) are one base,
engine/trace.py's TraceWrapper: each reads the whole trace through, never copying an array, and keeps the
Mapping contract (every key it lists is there, reads and says whether it is computed)."""
from __future__ import annotations

import numpy as np
import pytest

from rnntui.engine.trace import TraceWrapper
from rnntui.render.parts import DECODER_KEYS, PartTrace
from rnntui.tui.state import ShownTrace


@pytest.mark.parametrize("wrapper,name", [(ShownTrace, "seq2seq-reverse"), (ShownTrace, "char-embedding"),
                                          (PartTrace, "seq2seq-reverse")])   # a decoder part: encoder-decoders only
def test_a_wrapper_reads_the_whole_trace_through(traces, wrapper, name):
    whole = traces[name]
    view = wrapper(whole)
    assert isinstance(view, TraceWrapper) and view.whole is whole
    keys = list(view)
    assert keys == list(whole) and len(view) == len(keys)
    renamed = DECODER_KEYS if wrapper is PartTrace else {}
    text = {"tokens", "meta.vocab", "diag.nonfinite.keys"} if wrapper is ShownTrace else set()
    for key in keys:
        assert key in view
        assert view.is_computed(key) == whole.is_computed(renamed.get(key, key))
        if key in text or not whole.is_computed(key):
            continue
        source = renamed.get(key, key)
        if source in whole:
            assert view[key] is whole[source], key   # the same array object: read through, never copied
    assert "no such key" not in view
    with pytest.raises(KeyError):
        view["no such key"]


def test_the_decoder_part_reads_the_decoders_input_under_the_inputs_names(traces):
    whole = traces["seq2seq-reverse"]
    part = PartTrace(whole)
    for key, decoder_key in DECODER_KEYS.items():
        assert (key in part) == (decoder_key in whole)
        if decoder_key in whole:
            np.testing.assert_array_equal(part[key], whole[decoder_key])
