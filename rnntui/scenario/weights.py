"""Make every parameter: initialise, apply `recurrent_gain`, read a file, then `set`.

Files are read without pickle: `.npz` with allow_pickle=False, `.safetensors` as plain
tensors, `.pt`/`.pth` only through torch.load(weights_only=True) and only if torch is installed.
"""
from __future__ import annotations

import difflib
from math import prod, sqrt
from pathlib import Path

import numpy as np

from rnntui.engine.layout import EntryInfo


class WeightProblem(Exception):
    def __init__(self, key: tuple, message: str):
        self.key, self.message = key, message
        super().__init__(message)


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _init_one(name: str, shape, lay: EntryInfo, w, rng: np.random.Generator) -> np.ndarray | None:
    is_bias = len(shape) == 1
    kind = w.init
    if kind == "none":
        return None
    if kind == "normal":
        return rng.normal(0.0, w.std, shape)
    if kind == "uniform":
        return rng.uniform(w.low, w.high, shape)
    if kind == "constant":
        return np.full(shape, w.value, dtype=np.float64)
    if kind == "pytorch":
        k = lay.handler.init_bound(lay, name)
        return rng.uniform(-k, k, shape)
    if is_bias:
        return np.zeros(shape)
    receptive = prod(shape[2:]) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if kind == "xavier":
        a = sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, shape)
    # orthogonal, as torch.nn.init.orthogonal_: QR of a normal matrix, signs fixed by R's diagonal
    rows, cols = shape[0], prod(shape[1:])
    flat = rng.normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q.reshape(shape)


def read_weight_file(path: Path, shown_as: str | None = None) -> dict[str, np.ndarray]:
    shown_as = shown_as or path.name
    suffix = path.suffix.lower()
    if not path.exists():
        raise WeightProblem(("file",), f"found {shown_as!r}, which does not exist in {path.parent}; expected a weights file")
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: np.asarray(z[k]) for k in z.keys()}
        if suffix == ".safetensors":
            from safetensors.numpy import load_file

            return dict(load_file(str(path)))
        if suffix in (".pt", ".pth"):
            try:
                import torch
            except ImportError:
                raise WeightProblem(
                    ("file",), f"{path.name} is a PyTorch file and torch is not installed; "
                    "install torch, or save the weights as .npz or .safetensors") from None
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
            if hasattr(obj, "state_dict") and not isinstance(obj, dict):
                obj = obj.state_dict()
            if not isinstance(obj, dict):
                raise WeightProblem(("file",), f"{path.name} holds a {type(obj).__name__}; expected a state_dict")
            bad = [f"{k} ({type(v).__name__})" for k, v in obj.items() if not isinstance(v, torch.Tensor)]
            if bad:
                raise WeightProblem(("file",), f"{path.name} holds non-tensor values: {', '.join(bad[:5])}; "
                                    "expected a state_dict of tensors")
            return {str(k): v.detach().cpu().double().numpy() for k, v in obj.items()}
    except WeightProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the user's to fix
        raise WeightProblem(("file",), f"cannot read {path.name}: {type(exc).__name__}: {exc}") from None
    raise WeightProblem(("file",), f"found {path.name}; expected a .npz, .safetensors, .pt or .pth file")


def _rename(key: str, rename: dict[str, str]) -> str:
    for old in sorted(rename, key=len, reverse=True):
        if key.startswith(old):
            return rename[old] + key[len(old):]
    return key


def make_params(layout: list[EntryInfo], w, base_dir: Path, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], list[WeightProblem]]:
    """Return float64 parameters by name, and every problem found on the way."""
    problems: list[WeightProblem] = []
    shapes: dict[str, tuple[int, ...]] = {}
    owner: dict[str, EntryInfo] = {}
    for lay in layout:
        for name, shape in lay.params.items():
            shapes[name], owner[name] = shape, lay
    params: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        value = _init_one(name, shape, owner[name], w, rng)
        if value is not None:
            if owner[name].handler.is_recurrent_matrix(name):
                value = value * w.recurrent_gain
            params[name] = np.asarray(value, dtype=np.float64)

    if w.file is not None:
        try:
            loaded = read_weight_file(base_dir / w.file, w.file)
        except WeightProblem as exc:
            problems.append(exc)
            loaded = {}
        for raw_key, arr in loaded.items():
            key = _rename(raw_key, w.rename)
            shown = key if key == raw_key else f"{raw_key} (renamed {key})"
            if key not in shapes:
                problems.append(WeightProblem(("file",), f"key {shown} matches no parameter{_suggest(key, shapes)}; "
                                              f"expected one of {', '.join(shapes) or 'none'}"))
                continue
            arr = np.asarray(arr, dtype=np.float64)
            if arr.shape != shapes[key]:
                problems.append(WeightProblem(("file",), f"{shown} has shape {arr.shape}; expected {shapes[key]}"))
                continue
            params[key] = arr

    for key, value in w.set.items():
        where = ("set", key)
        if key not in shapes:
            problems.append(WeightProblem(where, f"{key} matches no parameter{_suggest(key, shapes)}; "
                                          f"expected one of {', '.join(shapes) or 'none'}"))
            continue
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            problems.append(WeightProblem(where, f"found a ragged or non-numeric value; expected numbers of shape {shapes[key]}"))
            continue
        if arr.ndim == 0:
            arr = np.full(shapes[key], float(arr))
        if arr.shape != shapes[key]:
            problems.append(WeightProblem(where, f"found shape {arr.shape}; expected {shapes[key]}"))
            continue
        params[key] = arr

    for name, shape in shapes.items():
        if name not in params and not any(p.key == ("file",) and "cannot" in p.message for p in problems):
            problems.append(WeightProblem(("init",), f"parameter {name} of shape {shape} is missing: "
                                          "init is none and neither the file nor `set` gives it"))
    return params, problems
