"""Turn the `input` section into arrays: (T, B, D) sequences or (B, C, H, W) images."""
from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from rnntui.scenario.arrays import ArrayFileError, NotNumbers, npz_names, numbers, read_npy, read_npz
from rnntui.scenario.built_input import BuiltInput, InputProblem, fits
from rnntui.scenario.dataset import DatasetProblem, batch_input, read_dataset
from rnntui.scenario.tokens import build_tokens


def _numeric(data, key: str | tuple) -> np.ndarray:
    try:
        return numbers(data)
    except NotNumbers as exc:
        raise InputProblem((key if isinstance(key, tuple) else (key,)) + exc.sub, exc.message) from None


def load_array_file(path: Path, key: str | None, where: str, shown_as: str, limit: int | None = None) -> np.ndarray:
    from rnntui.scenario.reads import note

    note(path)
    try:
        found = path.exists()
    except OSError as exc:  # a name too long for the file system, for one
        raise InputProblem(where, f"found {shown_as!r}, which cannot be opened: {exc.strerror}; "
                           "expected a .npy or .npz file") from None
    if not found:
        raise InputProblem(where, f"found {shown_as!r}, which does not exist in {path.parent}; expected a .npy or .npz file")
    try:
        if path.is_file() and zipfile.is_zipfile(path):
            names = npz_names(path)
            if key is None:
                if len(names) != 1:
                    raise InputProblem("key", f"{path.name} holds {names}; expected `key:` naming one of them")
                key = names[0]
            if key not in names:
                raise InputProblem("key", f"found {key!r}; expected one of {names}")
            arr = read_npz(path, [key], limit)[key]
        else:
            arr = read_npy(path, limit)
    except ArrayFileError as exc:
        raise InputProblem(where, f"{shown_as}: {exc}") from None
    return arr.astype(np.float64)


def _sequence(arr: np.ndarray, key: str, batch_form: bool) -> np.ndarray:
    if batch_form:
        if arr.ndim != 3:
            raise InputProblem(key, f"found shape {arr.shape}; expected (B, T, D): a list of sequences of steps")
        return np.ascontiguousarray(arr.transpose(1, 0, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim == 2:
        return arr[:, None, :]
    if arr.ndim == 3:
        return np.ascontiguousarray(arr.transpose(1, 0, 2))
    raise InputProblem(key, f"found shape {arr.shape}; expected (T, D) or (B, T, D)")


def _generate(g, rng: np.random.Generator, limit: int | None = None) -> BuiltInput:
    T, D, B = g.length, g.features, g.batch
    if g.kind == "digit":
        fits(B * g.size * g.size * 2, limit, "generate", f"a batch of {B} digit images")
        from rnntui.scenario.digits import draw_digit

        img = draw_digit(g.digit, g.size, rng)
        return BuiltInput(np.broadcast_to(img, (B, 1) + img.shape).copy(), seq=False)
    # sine makes a few temporaries of the full size; count them, and say so (the numbers are 3 times the input's)
    fits(T * B * D * (3 if g.kind == "sine" else 1), limit, "generate",
         f"generating a sine input of {T} x {B} x {D} (its sines take 3 arrays of that size)" if g.kind == "sine"
         else f"an input of {T} x {B} x {D}")
    t = np.arange(T, dtype=np.float64)[:, None, None]
    if g.kind == "sine":
        # features are shifted by a fraction of a cycle, batch samples by a random phase
        shift = np.arange(D)[None, None, :] * (2 * np.pi / max(D, 1)) / 4
        sample = np.zeros((1, B, 1)) if B == 1 else rng.uniform(0, 2 * np.pi, (1, B, 1))
        x = g.amplitude * np.sin(2 * np.pi * t / g.period + g.phase + shift + sample)
    elif g.kind == "noise":
        x = rng.normal(0.0, abs(g.std), (T, B, D))  # abs: numpy refuses a scale of -0.0, which ge=0 lets through
    elif g.kind == "constant":
        x = np.full((T, B, D), g.value)
    elif g.kind == "pulse":
        if g.at >= T:
            raise InputProblem("generate.at", f"found {g.at}; expected a step below length {T}")
        x = np.zeros((T, B, D))
        x[g.at] = g.value
    else:  # delayed-recall
        x = np.zeros((T, B, D))
        x[0] = rng.integers(0, 2, (B, D)).astype(np.float64)
    return BuiltInput(np.ascontiguousarray(x, dtype=np.float64), seq=True)


def build_input(inp, base_dir: Path, rng: np.random.Generator, limit: int | None = None,
                id_count: int | None = None, sample: int | None = None) -> BuiltInput:
    """Raise InputProblem(key, message) for what cannot be turned into an array (or within *limit* bytes).
    *id_count*: the model starts with an entry that reads this many token ids (see scenario/tokens.py);
    *sample*: a data set's first sample to read (`rnntui run --sample`; default the input's `sample`)."""
    if inp.dataset is not None:
        return _dataset(inp, base_dir, limit, id_count, sample)
    if inp.text is None and inp.tokens is None:
        for key in ("vocab", "unknown"):
            if getattr(inp, key) is not None:
                raise InputProblem(key, "is for token input (`text` or `tokens`); this input holds no tokens")
    if inp.text is not None or inp.tokens is not None:
        return build_tokens(inp, base_dir, limit, id_count)
    if inp.values is not None:
        x = _sequence(_numeric(inp.values, "values"), "values", batch_form=False)
        return _check(BuiltInput(x, seq=True), "values")
    if inp.batch is not None:
        if _is_ragged(inp.batch):
            return _ragged_batch(inp.batch, limit)
        x = _sequence(_numeric(inp.batch, "batch"), "batch", batch_form=True)
        return _check(BuiltInput(x, seq=True), "batch")
    if inp.generate is not None:
        return _check(_generate(inp.generate, rng, limit), "generate")
    if inp.file is not None:
        arr = load_array_file(base_dir / inp.file, inp.key, "file", inp.file, limit)
        return _check(BuiltInput(_sequence(arr, "file", batch_form=False), seq=True), "file")
    # image
    if isinstance(inp.image, str):
        arr = load_array_file(base_dir / inp.image, inp.key, "image", inp.image, limit)
    else:
        arr = _numeric(inp.image, "image")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputProblem("image", f"found shape {arr.shape}; expected (H, W) or (C, H, W)")
    return _check(BuiltInput(np.ascontiguousarray(arr[None]), seq=False), "image")


def _dataset(inp, base_dir: Path, limit: int | None, id_count: int | None, sample: int | None) -> BuiltInput:
    """A batch of a data set's samples (scenario/dataset.py)."""
    start = sample if sample is not None else (inp.sample or 0)
    try:
        ds = read_dataset(base_dir / inp.dataset, limit)
        built, target = batch_input(ds, start, inp.batch_size or 1, inp, base_dir, limit, id_count)
    except DatasetProblem as exc:
        if tuple(exc.key) == ("sample",) and sample is not None:   # the number is the caller's, not the file's
            raise InputProblem(("dataset",), f"{inp.dataset} has samples 0..{ds.N - 1}; found sample {start} asked "
                               "for (--sample, or rnntui.run's sample=)") from None
        raise InputProblem(exc.key, exc.message) from None
    except InputProblem as exc:   # the token checks speak of tokens[b][j]: sample start + b of the data set
        if exc.key and exc.key[0] == "tokens":
            raise InputProblem(("dataset",), f"sample {start + int(exc.key[1]) if len(exc.key) > 1 else start}: "
                               f"{exc.message}") from None
        raise
    return replace(built, target=target, dataset=ds, sample=start)


def _is_ragged(batch) -> bool:
    """A list of sequences (lists) whose lengths differ: sequences of different lengths, packed."""
    lens = {len(s) for s in batch if isinstance(s, list)}
    return len(lens) > 1 and all(isinstance(s, list) for s in batch)


def _ragged_batch(batch: list, limit: int | None) -> BuiltInput:
    """Sequences of different lengths, padded with zeros after each one's end, with their lengths."""
    seqs = []
    for b, sample in enumerate(batch):
        if not sample:
            raise InputProblem(("batch", b), "found an empty sequence; expected at least one step")
        seqs.append(_numeric(sample, ("batch", b)))
    return _pad(seqs, "batch", limit)


def _pad(seqs: list[np.ndarray], key: str, limit: int | None) -> BuiltInput:
    for b, a in enumerate(seqs):
        if a.ndim != 2 or a.shape[1:] != seqs[0].shape[1:]:
            raise InputProblem((key, b), f"found a sequence of shape {a.shape}; expected a list of steps (T_b, D) "
                               f"with D={seqs[0].shape[-1]} as sample 0 has" if b else
                               f"found a sequence of shape {a.shape}; expected a list of steps (T_b, D)")
    D = seqs[0].shape[1]
    lengths = np.array([len(a) for a in seqs], dtype=np.int64)
    T, B = int(lengths.max()), len(seqs)
    fits(T * B * D, limit, key, f"a padded batch of {B} x {T} x {D}")
    x = np.zeros((T, B, D))
    for b, a in enumerate(seqs):
        x[: len(a), b] = a
    return BuiltInput(x, seq=True, lengths=lengths)


def _check(b: BuiltInput, key: str) -> BuiltInput:
    if b.x.size == 0:
        raise InputProblem(key, f"found an empty array of shape {b.x.shape}; expected at least one value")
    return b
