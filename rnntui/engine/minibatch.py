"""Minibatches for training (`train.batch_size`, `train.shuffle`): which samples iteration k reads, and
the scenario cut down to them.

The data is the scenario's batch of B samples. A pass over it is ceil(B / batch_size) minibatches taken
in order (the last one may be smaller, as a DataLoader without drop_last gives it); iteration k takes
minibatch k of the passes laid end to end. With `shuffle`, every pass takes the samples in a new order
drawn from the scenario's seed and the pass's number alone, so any iteration can be recomputed on its
own (the order is recorded as `train.batch`, which a PyTorch loop can replay exactly).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np


def batch_indices(samples: int, batch_size: int | None, shuffle: bool, seed: int, iterations: int) -> list[np.ndarray]:
    """The sample indices of each iteration's minibatch (all samples, in order, without batch_size)."""
    size = samples if batch_size is None else min(batch_size, samples)
    per_pass = math.ceil(samples / size)
    out, order = [], np.arange(samples)
    for k in range(iterations):
        p, j = divmod(k, per_pass)
        if j == 0 and shuffle:
            order = np.random.default_rng([seed, 11, p]).permutation(samples)
        out.append(order[j * size:(j + 1) * size])
    return out


def is_whole(idx: np.ndarray, samples: int) -> bool:
    """Whether a minibatch is the whole batch in its own order (then the scenario is used as it is)."""
    return idx.size == samples and bool(np.all(idx == np.arange(samples)))


def subset(sc, idx: np.ndarray):
    """*sc* with only the samples *idx*, in that order: inputs, tokens, lengths, targets, initial states."""
    if is_whole(idx, sc.B):
        return sc

    def per_step(a):          # time first, the batch second: (T, B, ...)
        return None if a is None else np.ascontiguousarray(a[:, idx]) if a.ndim >= 2 else a

    out_seq = sc.layout[-1].seq_out
    target = sc.target
    if target is not None:
        target = np.ascontiguousarray(target[:, idx] if out_seq else target[idx])
    return replace(
        sc,
        x=np.ascontiguousarray(sc.x[:, idx] if sc.seq else sc.x[idx]),
        tokens=per_step(sc.tokens),
        token_ids=per_step(sc.token_ids),
        lengths=None if sc.lengths is None else np.ascontiguousarray(sc.lengths[idx]),
        target=target,
        initial_states={i: {name: np.ascontiguousarray(v[:, idx]) for name, v in st.items()}
                        for i, st in sc.initial_states.items()},
    )


__all__ = ["batch_indices", "is_whole", "subset"]
