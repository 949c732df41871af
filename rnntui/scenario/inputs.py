"""Turn the `input` section into arrays: (T, B, D) sequences or (B, C, H, W) images."""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnntui.scenario.arrays import ArrayFileError, NotNumbers, npz_names, numbers, read_npy, read_npz


@dataclass(frozen=True)
class BuiltInput:
    x: np.ndarray              # (T, B, D) for sequences, (B, C, ...) for images
    seq: bool
    tokens: tuple[str, ...] | None = None
    vocab: tuple[str, ...] | None = None


class InputProblem(Exception):
    """*key* is below `input`: a dotted string or a tuple of keys and indices."""

    def __init__(self, key: str | tuple, message: str):
        self.key, self.message = key, message
        super().__init__(message)


def tokenize(text: str, how: str) -> list[str]:
    if how == "chars":
        return list(text)
    return re.findall(r"\w+|[^\w\s]", text)


def _numeric(data, key: str) -> np.ndarray:
    try:
        return numbers(data)
    except NotNumbers as exc:
        raise InputProblem((key,) + exc.sub, exc.message) from None


def load_array_file(path: Path, key: str | None, where: str, shown_as: str, limit: int | None = None) -> np.ndarray:
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


def fits(numbers: int, limit: int | None, key, what: str) -> None:
    """Refuse, before allocating, an array of *numbers* float64 values that would pass *limit* bytes."""
    if limit is not None and numbers * 8 > limit:
        from rnntui.engine.run import human

        raise InputProblem(key, f"{what} would take {human(numbers * 8)} ({numbers:,} numbers), more than the "
                           f"memory limit of {human(limit)}; make it smaller or raise --max-memory")


def _generate(g, rng: np.random.Generator, limit: int | None = None) -> BuiltInput:
    T, D, B = g.length, g.features, g.batch
    if g.kind == "digit":
        fits(B * g.size * g.size * 2, limit, "generate", f"a batch of {B} digit images")
        from rnntui.scenario.digits import draw_digit

        img = draw_digit(g.digit, g.size, rng)
        return BuiltInput(np.broadcast_to(img, (B, 1) + img.shape).copy(), seq=False)
    # sine makes a few temporaries of the full size; count them
    fits(T * B * D * (3 if g.kind == "sine" else 1), limit, "generate", f"an input of {T} x {B} x {D}")
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


def build_input(inp, base_dir: Path, rng: np.random.Generator, limit: int | None = None) -> BuiltInput:
    """Raise InputProblem(key, message) for what cannot be turned into an array (or within *limit* bytes)."""
    if inp.values is not None:
        x = _sequence(_numeric(inp.values, "values"), "values", batch_form=False)
        return _check(BuiltInput(x, seq=True), "values")
    if inp.batch is not None:
        x = _sequence(_numeric(inp.batch, "batch"), "batch", batch_form=True)
        return _check(BuiltInput(x, seq=True), "batch")
    if inp.text is not None:
        tokens = tokenize(inp.text, inp.tokenize)
        if not tokens:
            raise InputProblem("text", "found no tokens; expected at least one word or character")
        vocab = sorted(set(tokens))
        fits(len(tokens) * len(vocab), limit, "text",
             f"the one-hot input of {len(tokens):,} tokens over {len(vocab):,} symbols")
        column = {tok: k for k, tok in enumerate(vocab)}
        x = np.zeros((len(tokens), 1, len(vocab)))
        x[np.arange(len(tokens)), 0, [column[tok] for tok in tokens]] = 1.0
        return BuiltInput(x, seq=True, tokens=tuple(tokens), vocab=tuple(vocab))
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


def _check(b: BuiltInput, key: str) -> BuiltInput:
    if b.x.size == 0:
        raise InputProblem(key, f"found an empty array of shape {b.x.shape}; expected at least one value")
    return b
