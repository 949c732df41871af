"""`input: {dataset: data.npz}`: a data set of N samples, of which a run reads one batch.

The file is an `.npz` (read without pickle) holding:

    x        (N, T, F) numbers, one sequence of T steps per sample; or (N, T) whole numbers: token ids
             (for a model whose first entry is an embedding, or one-hot encoded as `tokens:` are)
    lengths  (N,) optional: each sample's own length (the rest of its row is padding)
    target   optional, batch first: (N,) or (N, T) class indices, (N, F) or (N, T, F) numbers; the loss
             reads it where the scenario's `loss:` has no target of its own

A run reads samples `sample` .. `sample + batch_size - 1` (defaults 0 and 1; `rnntui run --sample k`
chooses another); `rnntui scan` reads every sample, one at a time (rnntui/samples/).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rnntui.scenario.built_input import BuiltInput, fits
from rnntui.scenario.tokens import NO_TOKEN, PAD_ID, build_tokens

KEYS = ("x", "lengths", "target")


class DatasetProblem(Exception):
    """*key* is below `input` (a tuple); *message* says what was found and expected."""

    def __init__(self, key: tuple, message: str):
        self.key, self.message = key, message
        super().__init__(message)


@dataclass(frozen=True)
class Dataset:
    """The arrays of a data set file, checked; `N` samples of `T` steps."""

    path: str
    x: np.ndarray
    lengths: np.ndarray | None
    target: np.ndarray | None

    @property
    def N(self) -> int:
        return int(self.x.shape[0])

    @property
    def T(self) -> int:
        return int(self.x.shape[1])

    @property
    def ids(self) -> bool:
        return self.x.ndim == 2

    def length_of(self, k: int) -> int:
        return self.T if self.lengths is None else int(self.lengths[k])


_cache: dict[tuple, Dataset] = {}


def read_dataset(path: Path, limit: int | None) -> Dataset:
    """The data set at *path*, checked (kept for the process: a scan reads it once, not once a sample)."""
    from rnntui.npyfiles import ArrayFileError, npz_names, read_npz

    try:
        st = path.stat()
    except OSError as exc:
        raise DatasetProblem(("dataset",), f"found {str(path)!r}, which cannot be opened "
                             f"({exc.strerror or exc}); expected an .npz holding x (and lengths, target)") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key in _cache:
        return _cache[key]
    try:
        names = npz_names(path)
        if "x" not in names:
            raise DatasetProblem(("dataset",), f"{path.name} holds {sorted(names)}; expected an array named x "
                                 "(N, T, F) or token ids (N, T), and optionally lengths (N,) and target")
        arrays = read_npz(path, [k for k in KEYS if k in names], limit, kinds="biuf")
    except ArrayFileError as exc:
        raise DatasetProblem(("dataset",), f"{path.name}: {exc}") from None
    x = arrays["x"]
    if x.ndim not in (2, 3) or 0 in x.shape:
        raise DatasetProblem(("dataset",), f"{path.name}[x] has shape {x.shape}; expected (N, T, F) numbers or "
                             "(N, T) token ids, none of them 0")
    if x.ndim == 2 and x.dtype.kind not in "iu":
        raise DatasetProblem(("dataset",), f"{path.name}[x] is (N, T) of {x.dtype}; token ids are whole numbers "
                             "(a sequence of single numbers is (N, T, 1))")
    N, T = x.shape[:2]
    lengths = arrays.get("lengths")
    if lengths is not None:
        if lengths.shape != (N,) or lengths.dtype.kind not in "iu":
            raise DatasetProblem(("dataset",), f"{path.name}[lengths] is {lengths.dtype} {lengths.shape}; expected "
                                 f"({N},) whole numbers, one per sample")
        bad = np.flatnonzero((lengths < 1) | (lengths > T))
        if bad.size:
            raise DatasetProblem(("dataset",), f"{path.name}[lengths][{int(bad[0])}] is {int(lengths[bad[0]])}; "
                                 f"expected 1 .. {T} (x's steps)")
        lengths = lengths.astype(np.int64)
    target = arrays.get("target")
    if target is not None and (target.ndim == 0 or target.shape[0] != N):
        raise DatasetProblem(("dataset",), f"{path.name}[target] has shape {target.shape}; expected the samples "
                             f"first ({N}, ...)")
    ds = Dataset(str(path), x, lengths, target)
    _cache.clear()   # one data set at a time
    _cache[key] = ds
    return ds


def batch_input(ds: Dataset, start: int, size: int, inp, base_dir: Path, limit: int | None, id_count: int | None):
    """Samples start .. start+size-1 as a BuiltInput (and their target, batch first, or None)."""
    if not 0 <= start < ds.N:
        raise DatasetProblem(("sample",), f"found {start}; the data set has samples 0..{ds.N - 1}")
    stop = min(start + size, ds.N)
    rows = range(start, stop)
    if ds.ids:
        tokens = [[int(v) for v in ds.x[k, : ds.length_of(k)]] for k in rows]
        bad = next(((k, j) for k, row in zip(rows, tokens) for j, v in enumerate(row) if v < 0), None)
        if bad is not None:
            raise DatasetProblem(("dataset",), f"x[{bad[0]}][{bad[1]}] is {int(ds.x[bad])}; token ids are >= 0")
        fake = SimpleNamespace(tokens=tokens, text=None, vocab=inp.vocab, unknown=None, tokenize="words", key=None)
        built = _padded(build_tokens(fake, base_dir, limit, id_count), ds.T,
                        np.array([ds.length_of(k) for k in rows], dtype=np.int64))
    else:
        x = ds.x[start:stop].astype(np.float64)
        fits(x.size, limit, "dataset", f"a batch of {x.shape[0]} x {x.shape[1]} x {x.shape[2]}")
        lengths = None if ds.lengths is None else ds.lengths[start:stop]
        if lengths is not None and (lengths == ds.T).all():
            lengths = None
        if lengths is not None:   # zeros past each sample's end, as a padded batch with lengths holds
            x = x * (np.arange(ds.T)[None, :, None] < lengths[:, None, None])
        built = BuiltInput(np.ascontiguousarray(x.transpose(1, 0, 2)), seq=True, lengths=lengths)
    target = None if ds.target is None else np.asarray(ds.target[start:stop], dtype=np.float64)
    return built, target


def _padded(built, T: int, lengths: np.ndarray):
    """Token input padded to the data set's T steps (every batch of a data set has the same steps, so one
    layout serves them all), kept in a batch's layout even for one sample."""
    tokens, ids = built.tokens, built.token_ids
    if tokens.ndim == 1:
        tokens, ids = tokens[:, None], ids[:, None]
    extra = T - built.x.shape[0]
    x = built.x
    if extra:
        B = x.shape[1]
        x = np.concatenate([x, np.full((extra, B) + x.shape[2:], PAD_ID if built.ids else 0.0)], axis=0)
        tokens = np.concatenate([tokens, np.full((extra, B), "", dtype=tokens.dtype)], axis=0)
        ids = np.concatenate([ids, np.full((extra, B), NO_TOKEN, dtype=ids.dtype)], axis=0)
    return replace(built, x=np.ascontiguousarray(x), tokens=tokens, token_ids=ids,
                   lengths=None if (lengths == T).all() else lengths)


__all__ = ["Dataset", "DatasetProblem", "batch_input", "read_dataset"]
