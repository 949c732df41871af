"""Token inputs (`tokens`, `text` with or without `vocab`, a list of texts) -> ids -> the model's input.

A model that starts with an entry reading ids (an embedding) gets the ids themselves, as (T, B, 1);
any other model gets them one-hot encoded over the vocabulary's size, as (T, B, V). Sequences of
different lengths are padded to the longest (id 0; a zero vector when one-hot) and their lengths
returned, so the engine can run them packed. Every token that cannot be given an id is refused with
its text, its position and the scenario key it came from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnntui.scenario.built_input import BuiltInput, InputProblem, fits
from rnntui.scenario.vocab import read_vocab

PAD_ID = 0            # what the model reads at a padded step (the trace's `token_ids` shows -1 there)
NO_TOKEN = -1


@dataclass(frozen=True)
class Sample:
    """One sequence: its ids, each token's text, and how a message names token k's position."""

    key: tuple                 # where it is below `input`: ("text",), ("text", b), ("tokens", b)
    ids: list[int]
    texts: list[str]
    where: list[str]


def _split(text: str, how: str) -> list[tuple[str, int]]:
    """Tokens with the character offset each starts at: every character, or words and single punctuation marks."""
    if how == "chars":
        return [(ch, k) for k, ch in enumerate(text)]
    return [(m.group(), m.start()) for m in re.finditer(r"\w+|[^\w\s]", text)]


def _quoted(tok: str) -> str:
    return repr(tok if len(tok) <= 40 else tok[:37] + "...")


def _texts(inp, vocab: tuple[str, ...] | None) -> tuple[list[Sample], tuple[str, ...]]:
    batch = isinstance(inp.text, list)
    texts = inp.text if batch else [inp.text]
    if not texts:
        raise InputProblem("text", "found an empty list; expected at least one text")
    split = [_split(t, inp.tokenize) for t in texts]
    for b, toks in enumerate(split):
        if not toks:
            raise InputProblem(("text", b) if batch else "text", "found no tokens; expected at least one word or character")
    if vocab is None:  # version 1: one-hot over the texts' own sorted vocabulary
        vocab = tuple(sorted({tok for toks in split for tok, _ in toks}))
    ids_of = {tok: i for i, tok in enumerate(vocab)}
    unk = None if inp.unknown is None else ids_of[inp.unknown]
    samples = []
    for b, toks in enumerate(split):
        key = ("text", b) if batch else ("text",)
        of = f" of text {b}" if batch else " of the text"
        ids = []
        for k, (tok, at) in enumerate(toks):
            i = ids_of.get(tok, unk)
            if i is None:
                raise InputProblem(key, f"token {k} ({_quoted(tok)}, at character {at}{of}) is not in the vocabulary "
                                   f"of {len(vocab):,} tokens; add it, or set `unknown:` to the token that stands "
                                   "for anything else")
            ids.append(i)
        samples.append(Sample(key, ids, [tok for tok, _ in toks],
                              [f"token {k} ({_quoted(tok)}, at character {at}{of})" for k, (tok, at) in enumerate(toks)]))
    return samples, vocab


def _id_lists(inp) -> tuple[list[list], bool]:
    raw = inp.tokens
    if not raw:
        raise InputProblem("tokens", "found an empty list; expected token ids, or a list of sequences of them")
    batch = isinstance(raw[0], list)
    for b, item in enumerate(raw):
        if isinstance(item, list) != batch:
            raise InputProblem(("tokens", b), "found ids and lists of ids side by side; expected one sequence of ids, "
                               "or a list of sequences of them")
        if batch and not item:
            raise InputProblem(("tokens", b), "found an empty sequence; expected at least one id")
    return (raw if batch else [raw]), batch


def _tokens(inp, vocab: tuple[str, ...] | None) -> list[Sample]:
    seqs, batch = _id_lists(inp)
    samples = []
    for b, seq in enumerate(seqs):
        key = ("tokens", b) if batch else ("tokens",)
        of = f" of sequence {b}" if batch else ""
        for t, v in enumerate(seq):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputProblem(key + (t,), f"found {v!r} ({type(v).__name__}) at position {t}{of}; expected a "
                                   "token id: a whole number from 0")
            if vocab is not None and v >= len(vocab):
                raise InputProblem(key + (t,), f"id {v} at position {t}{of} is outside the vocabulary of "
                                   f"{len(vocab):,} tokens (ids 0..{len(vocab) - 1})")
        texts = [vocab[v] for v in seq] if vocab is not None else [str(v) for v in seq]
        samples.append(Sample(key, list(seq), texts, [f"id {v} at position {t}{of}" for t, v in enumerate(seq)]))
    return samples


def _vocabulary(inp, base_dir: Path) -> tuple[str, ...] | None:
    if inp.vocab is None:
        if inp.unknown is not None:
            raise InputProblem("unknown", "is for a `vocab`; there is none (without one, text is one-hot encoded "
                               "over its own tokens, and every token is known)")
        return None
    vocab = read_vocab(inp.vocab, base_dir)
    if inp.unknown is not None and inp.unknown not in vocab:
        raise InputProblem("unknown", f"found {_quoted(inp.unknown)}, which is not in the vocabulary; expected one of "
                           "its tokens")
    return vocab


def build_tokens(inp, base_dir: Path, limit: int | None, id_count: int | None) -> BuiltInput:
    """*id_count*: the model's first entry reads ids, this many (None: encode them one-hot)."""
    vocab = _vocabulary(inp, base_dir)
    if inp.tokens is not None:
        samples, batch = _tokens(inp, vocab), isinstance(inp.tokens[0], list)
    else:
        samples, vocab = _texts(inp, vocab)
        batch = isinstance(inp.text, list)
    size = len(vocab) if vocab is not None else max(max(s.ids) for s in samples) + 1
    # ids are the model's input where it reads them and they mean something fixed (not version 1's sorted text)
    as_ids = id_count is not None and (inp.tokens is not None or inp.vocab is not None)
    if as_ids:
        for s in samples:
            bad = next((k for k, v in enumerate(s.ids) if v >= id_count), None)
            if bad is not None:
                raise InputProblem(s.key + ((bad,) if s.key[0] == "tokens" else ()),
                                   f"{s.where[bad]}{'' if s.key[0] == 'tokens' else f' has id {s.ids[bad]}'} "
                                   f"is outside the embedding's {id_count:,} rows "
                                   f"(num_embeddings; ids 0..{id_count - 1})")
    lengths = np.array([len(s.ids) for s in samples], dtype=np.int64)
    T, B = int(lengths.max()), len(samples)
    width = 1 if as_ids else size
    # the input, and the ids and texts recorded beside it
    what = f"the ids of {B:,} x {T:,} tokens" if as_ids else \
        f"the one-hot input of {int(lengths.sum()):,} tokens over {size:,} symbols"
    fits(T * B * (width + 2), limit, "tokens" if inp.tokens is not None else "text", what)
    ids = np.full((T, B), NO_TOKEN, dtype=np.int64)
    texts = np.full((T, B), "", dtype=object)
    for b, s in enumerate(samples):
        ids[: len(s.ids), b] = s.ids
        texts[: len(s.ids), b] = s.texts
    real = ids != NO_TOKEN
    if as_ids:
        x = np.where(real, ids, PAD_ID).astype(np.float64)[..., None]
    else:
        x = np.zeros((T, B, size))
        t_ix, b_ix = np.nonzero(real)
        x[t_ix, b_ix, ids[real]] = 1.0  # padded steps stay zero vectors
    tokens, token_ids = texts.astype(str), ids
    if not batch:  # one sequence keeps version 1's (T,) layout
        tokens, token_ids = tokens[:, 0], token_ids[:, 0]
    return BuiltInput(x, seq=True, tokens=tokens, vocab=vocab if inp.vocab is not None or inp.text is not None else None,
                      lengths=None if np.all(lengths == T) else lengths, token_ids=token_ids, ids=as_ids)
