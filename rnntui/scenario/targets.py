"""The loss target laid out like the model's output (`target_of`, from the scenario, a file or a data set), checked
where each sample's lengths are known (`check_real_targets`), and those lengths from the input section
(`sample_lengths`): for the chain's loader and a graph's alike."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rnntui.errors import ScenarioError
from rnntui.scenario import schema
from rnntui.scenario.arrays import NotNumbers, numbers
from rnntui.scenario.built_input import InputProblem
from rnntui.scenario.inputs import load_array_file
from rnntui.scenario.validate import describe
from rnntui.scenario.yaml_source import Positions


def target_of(top: schema.Top, out_feat: tuple, out_seq: bool, T: int, B: int, single: bool, pos: Positions,
            lengths: np.ndarray | None = None, padded: bool = False, base_dir: Path | None = None,
            limit: int | None = None, given: np.ndarray | None = None):
    """Return the target laid out like the output: (T, B, F) / (T, B) or (B, F) / (B,). With *lengths*
    (a ragged input), a per-step target is ragged too: one list per sample, as long as the sample.
    `target: {file: t.npy}` (or an .npz with `key:`) reads the same layout from a file, batch first."""
    kind, raw = top.loss.kind, (top.loss.target if given is None else given)
    where = ("loss", "target") if given is None else ("input", "dataset")
    if isinstance(raw, dict) and kind != "sum":
        raw = _target_file(raw, base_dir or Path("."), pos, where, limit)
    if kind == "sum":
        if raw is not None:
            raise ScenarioError([pos.problem(where, "found a target; loss kind sum takes none (use mse or cross_entropy)")])
        return None
    if raw is None:
        raise ScenarioError([pos.problem(("loss",), f"loss kind {kind} needs a `target`")])
    if lengths is not None and out_seq:
        raw = _padded_target(raw, lengths, pos, where)
    try:
        arr = raw if isinstance(raw, np.ndarray) else numbers(raw, "numbers" if kind == "mse" else
                                                              "class indices (whole numbers)")
    except NotNumbers as exc:
        raise ScenarioError([pos.problem(where + exc.sub, exc.message)]) from None
    F = out_feat[0] if len(out_feat) == 1 else None
    if kind in ("cross_entropy", "nll"):
        if F is None:
            raise ScenarioError([pos.problem(where, f"{kind} needs a vector of logits; the model returns {out_feat}")])
        if out_seq:
            shapes = {1: (T,), 2: (B, T)} if single else {2: (B, T)}
            lay = "(T)" + (" or (B, T)" if single else "") if single else "(B, T)"
        else:
            shapes = {0: (), 1: (B,)} if single else {1: (B,)}
            lay = "one index or (B)" if single else "(B)"
        if arr.ndim not in shapes or arr.shape != shapes[arr.ndim]:
            raise ScenarioError([pos.problem(where, f"found shape {arr.shape}; expected class indices laid out as {lay}, "
                                             f"here {shapes[max(shapes)]}")])
        # a padded target's entries past a sample's length are ignored: only real steps must be classes
        # (checked where the lengths are known)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
            if not (padded and out_seq):
                bad |= (arr < 0) | (arr >= F)
        if bad.any():
            # the first wrong value where the user wrote it (target[sample][step]), and how many more there are
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            v = float(arr[at])
            shown = int(v) if np.isfinite(v) and v == int(v) else v
            more = int(bad.sum()) - 1
            raise ScenarioError([pos.problem(where, f"found {shown} at target{''.join(f'[{i}]' for i in at)}"
                                             + (f" (and {more} more)" if more else "")
                                             + f"; expected whole class indices in 0..{F - 1} (the model's output has "
                                               f"{F} classes)")])
        arr = arr.astype(np.int64)
        if out_seq:
            return arr.reshape(T, 1) if arr.ndim == 1 else arr.T.copy()
        return arr.reshape(B)
    # mse
    full = ((T, B) if out_seq else (B,)) + tuple(out_feat)
    if out_seq:
        if arr.ndim == 1 + len(out_feat) and B == 1 and arr.shape == (T,) + tuple(out_feat):
            return arr.reshape(full)
        if arr.shape == (B, T) + tuple(out_feat):
            return np.ascontiguousarray(np.moveaxis(arr, 0, 1))
        lay = (f"{(T,) + tuple(out_feat)} or " if B == 1 else "") + f"{(B, T) + tuple(out_feat)}"
    else:
        if B == 1 and arr.shape == tuple(out_feat):
            return arr.reshape(full)
        if arr.shape == full:
            return arr
        lay = (f"{tuple(out_feat)} or " if B == 1 else "") + f"{full}"
    raise ScenarioError([pos.problem(where, f"found shape {arr.shape}; expected {lay} to match the model's output")])


def _target_file(raw: dict, base_dir: Path, pos: Positions, where: tuple, limit: int | None) -> np.ndarray:
    """`target: {file: ..., key: ...}`: the array, read without pickle, or the problem at its key."""
    unknown = [k for k in raw if k not in ("file", "key")]
    if unknown or not isinstance(raw.get("file"), str) or not isinstance(raw.get("key", ""), str):
        bad = unknown[0] if unknown else "file"
        raise ScenarioError([pos.problem(where + ((bad,) if bad in raw else ()), (
            f"found {describe(raw.get(bad)) if bad in raw else 'no file'}; expected a target file as "
            "{file: target.npy} or {file: data.npz, key: name} (class indices or numbers, batch first)"))])
    try:
        return load_array_file(base_dir / raw["file"], raw.get("key"), "file", raw["file"], limit)
    except InputProblem as exc:
        raise ScenarioError([pos.problem(where + (exc.key if isinstance(exc.key, tuple) else (exc.key,)),
                                         exc.message)]) from None


def _padded_target(raw, lengths, pos: Positions, where: tuple) -> list:
    """A ragged per-step target (one list per sample, as long as the sample) padded to (B, T, ...) lists."""
    if not isinstance(raw, list) or len(raw) != len(lengths):
        found = f"{len(raw)} entries" if isinstance(raw, list) else describe(raw)
        raise ScenarioError([pos.problem(where, f"found {found}; expected one list per sample ({len(lengths)}), "
                                         "each as long as its sequence, as the input is laid out")])
    T = int(max(lengths))
    out = []
    for b, (sample, n) in enumerate(zip(raw, lengths)):
        if not isinstance(sample, list) or len(sample) != n:
            found = f"{len(sample)} steps" if isinstance(sample, list) else describe(sample)
            raise ScenarioError([pos.problem(where + (b,), f"found {found}; expected {int(n)}, the length of sample {b}")])
        fill = sample[0] if sample else 0
        out.append(sample + [_zero_like(fill)] * (T - int(n)))
    return out


def _zero_like(v):
    return [_zero_like(u) for u in v] if isinstance(v, list) else 0


def shown_lengths(lengths) -> str:
    shown = [int(v) for v in lengths[:8]]
    return str(shown)[:-1] + (", ...]" if len(lengths) > 8 else "]")


def sample_lengths(top, built, x):
    """Each sample's own length (None when all are T), or a problem (key path, message)."""
    given = top.input.lengths
    lengths = built.lengths
    if given is not None and top.input.batch is None and top.input.file is None:
        return None, (("input", "lengths"), "found lengths beside another input form; expected them only beside a "
                      "padded batch or file")
    if given is not None and lengths is not None:
        return None, (("input", "lengths"), "found lengths beside sequences of different lengths; expected them only "
                      "beside a padded batch (a ragged batch gives its own)")
    if given is not None:
        B, T = x.shape[1], x.shape[0]
        if len(given) != B:
            return None, (("input", "lengths"), f"found {len(given)} lengths; expected one per sample of the batch ({B})")
        too_long = [k for k, n in enumerate(given) if n > T]
        if too_long:
            k = too_long[0]
            return None, (("input", "lengths", k), f"found {given[k]}; expected at most the padded length {T}")
        lengths = np.asarray(given, dtype=np.int64)
    if lengths is None:
        return None, None
    if top.mode == "one-to-many":
        return None, (("input",), "one-to-many unrolls one step for every sample; found sequences of different lengths")
    if (lengths == x.shape[0]).all():
        return None, None
    return lengths, None


def check_real_targets(top, target, lengths, out_feat, pos) -> None:
    """A padded target's entries past a sample's length are ignored; its real entries must be classes."""
    if top.loss.kind not in ("cross_entropy", "nll"):
        return
    real = np.arange(target.shape[0])[:, None] < lengths[None, :]
    F = out_feat[0]
    bad = real & ((target < 0) | (target >= F))
    if bad.any():
        t, b = (int(v) for v in np.argwhere(bad)[0])
        raise ScenarioError([pos.problem(("loss", "target"), (
            f"found {int(target[t, b])} at sample {b}, step {t}; expected whole class indices in 0..{F - 1} "
            "at every real step"))])
