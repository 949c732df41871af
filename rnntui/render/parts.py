"""The two parts of an encoder-decoder, as the views read them.

An encoder-decoder has two inputs: the encoder's (`input`, `tokens`, `token_ids`, `grad.input`,
`meta.vocab`) and the decoder's (`decoder.input`, ... `meta.decoder_vocab`). A view of a decoder
entry, the prediction (the output is the decoder's) and the timeline over decoder steps read the
decoder's under the usual names, through `PartTrace`; everything else reads the trace itself. Any
other run has one part, and these functions return the trace unchanged.
"""
from __future__ import annotations

from rnntui.engine import keys
from rnntui.engine.trace import TraceWrapper
from rnntui.render.pertrace import PerTrace

DECODER_KEYS = {"input": keys.DECODER_INPUT, "tokens": keys.DECODER_TOKENS, "token_ids": keys.DECODER_TOKEN_IDS,
                keys.GRAD_INPUT: keys.GRAD_DECODER_INPUT, keys.META_VOCAB: keys.META_DECODER_VOCAB}


class PartTrace(TraceWrapper):
    """The trace, with the decoder's input under the names of the input (read through, never copied)."""

    def source_key(self, key: str) -> str:
        return DECODER_KEYS.get(key, key)


_parts = PerTrace(8)  # one PartTrace per trace, so caches keyed by the trace's identity keep working


def decoder_part(trace):
    return _parts.get(trace, ("decoder",), lambda: PartTrace(trace))


def for_place(trace, place):
    """What a view of *place* reads: the decoder's input for a decoder entry."""
    if trace.info.entries[place.entry].part == "decoder":
        return decoder_part(trace)
    return trace


def for_output(trace):
    """What the prediction reads beside the output: the decoder's steps in an encoder-decoder."""
    if trace.info.mode == "encoder-decoder":
        return decoder_part(trace)
    return trace
