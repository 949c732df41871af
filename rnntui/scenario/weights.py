"""Make every parameter: initialise, apply `recurrent_gain`, read a file, then `set`.

Files are read without pickle: `.npz` with allow_pickle=False, `.safetensors` as plain
tensors, `.pt`/`.pth` only through torch.load(weights_only=True) and only if torch is installed.
"""
from __future__ import annotations

from math import prod, sqrt
from pathlib import Path

import numpy as np

from rnntui.engine.handlers import handler
from rnntui.engine.layout import EntryInfo
from rnntui.scenario.yaml_words import suggest
from rnntui.scenario.arrays import ArrayFileError, NotNumbers, check_dtype, numbers, read_npz, regular_size


class WeightProblem(Exception):
    def __init__(self, key: tuple, message: str):
        self.key, self.message = key, message
        super().__init__(message)


class TooManyParameters(Exception):
    """The parameters would not fit in memory; *index* is the model entry that holds the most."""

    def __init__(self, index: int, message: str):
        self.index, self.message = index, message
        super().__init__(message)


def check_param_count(layout: list[EntryInfo], limit: int | None, used: int = 0) -> None:
    """Refuse before anything is allocated; counted with Python ints, which cannot overflow. *used*: bytes
    the input already holds (both count against the one limit)."""
    per_entry = {lay.index: sum(prod(shape) for shape in lay.params.values()) for lay in layout}
    total = sum(per_entry.values())
    if limit is not None and total * 8 + used > limit:
        from rnntui.sizes import format_size

        biggest = max(per_entry, key=per_entry.get)
        beside = f" beside the input's {format_size(used)}" if total * 8 <= limit else ""  # the input tipped it over
        raise TooManyParameters(biggest, f"the model's {total:,} parameters would take "
                                f"{format_size(total * 8)}{beside}, "
                                f"more than the memory limit of {format_size(limit)} (this entry holds "
                                f"{per_entry[biggest]:,}); make it smaller or raise --max-memory")



def _init_one(name: str, shape, lay: EntryInfo, w, rng: np.random.Generator) -> np.ndarray | None:
    is_bias = len(shape) == 1
    kind = w.init
    if kind == "none":
        return None
    if kind == "normal":
        return rng.normal(0.0, abs(w.std), shape)  # abs: numpy refuses a scale of -0.0, which ge=0 lets through
    if kind == "uniform":
        return rng.uniform(w.low, w.high, shape)
    if kind == "constant":
        return np.full(shape, w.value, dtype=np.float64)
    if kind == "pytorch":
        return handler(lay.type).init_pytorch(lay, name, shape, rng)
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


class StateDict(dict):
    """A state_dict read from a file; `key`: where it was inside a training checkpoint dict (None: the file
    is the state_dict itself), `left_out`: the checkpoint's other keys."""

    key: str | None = None
    left_out: tuple = ()


def _torch_state(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise WeightProblem(
            ("file",), f"{path.name} is a PyTorch file and torch is not installed; "
            "install torch, or save the weights as .npz or .safetensors") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's own message is several lines of advice about pickle
        if "weights_only" in str(exc) or "Unpickl" in type(exc).__name__:
            raise WeightProblem(("file",), f"cannot read {path.name}: it holds Python objects besides tensors, "
                                "which are never unpickled (torch.load with weights_only=True refused it); "
                                "expected a state_dict of tensors") from None
        raise
    if hasattr(obj, "state_dict") and not isinstance(obj, dict):
        obj = obj.state_dict()
    obj_keys = list(obj) if isinstance(obj, dict) else []
    if not isinstance(obj, dict):
        raise WeightProblem(("file",), f"{path.name} holds a {type(obj).__name__}; expected a state_dict")
    key = None
    bad = [f"{k} ({type(v).__name__})" for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        # a training checkpoint ({"model": state_dict, "optimizer": ..., "epoch": 3}): the one dict of tensors in it
        inner = [k for k, v in obj.items() if isinstance(v, dict) and v and
                 all(isinstance(t, torch.Tensor) for t in v.values())]
        if len(inner) == 1:
            key = inner[0]
            obj = obj[key]
        elif inner:
            raise WeightProblem(("file",), f"{path.name} is a checkpoint holding {len(inner)} state_dicts "
                                f"({', '.join(map(str, inner))}); expected one: save the model's alone, "
                                f"torch.save(checkpoint[{inner[0]!r}], \"weights.pt\"), and name that file")
        else:
            raise WeightProblem(("file",), f"{path.name} holds non-tensor values: {', '.join(bad[:5])}; "
                                "expected a state_dict of tensors, or a checkpoint dict holding one")
    ints = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
    bad = [f"{k} ({v.dtype})" for k, v in obj.items() if v.is_complex() or not (v.dtype.is_floating_point or v.dtype in ints)]
    if bad:
        raise WeightProblem(("file",), f"{path.name} holds tensors that are not real numbers: {', '.join(bad[:5])} "
                            "(an imaginary part would be lost); expected float tensors")
    state = StateDict({str(k): v.detach().cpu().double().numpy() for k, v in obj.items()})
    if key is not None:
        state.key = str(key)
        state.left_out = tuple(str(k) for k in obj_keys if k != key)
    return state


def read_weight_file(path: Path, shown_as: str | None = None, limit: int | None = None) -> dict[str, np.ndarray]:
    from rnntui.scenario.reads import note

    note(path)
    shown_as = shown_as or path.name
    suffix = path.suffix.lower()
    try:
        found = path.exists()
    except OSError as exc:  # a name too long for the file system, for one
        raise WeightProblem(("file",), f"found {shown_as!r}, which cannot be opened: {exc.strerror}; "
                            "expected a weights file") from None
    if not found:
        raise WeightProblem(("file",), f"found {shown_as!r}, which does not exist in {path.parent}; expected a weights file")
    if suffix not in (".npz", ".safetensors", ".pt", ".pth"):
        raise WeightProblem(("file",), f"found {path.name}; expected a .npz, .safetensors, .pt or .pth file")
    try:
        size = regular_size(path)
        if limit is not None and size > limit and suffix != ".npz":
            raise ArrayFileError(f"is {size:,} bytes, more than the memory limit of {limit:,} bytes")
        if suffix == ".npz":
            return read_npz(path, None, limit)
        if suffix == ".safetensors":
            from safetensors.numpy import load_file

            loaded = dict(load_file(str(path)))
            for k, v in loaded.items():
                check_dtype(v.dtype, f"{path.name}[{k}]")
            return loaded
        return _torch_state(path)
    except ArrayFileError as exc:
        raise WeightProblem(("file",), f"cannot read {shown_as}: {exc}") from None
    except WeightProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the user's to fix
        first = (str(exc).strip().splitlines() or [""])[0]
        raise WeightProblem(("file",), f"cannot read {path.name}: {type(exc).__name__}: {first}") from None


# The buffers PyTorch's own layers keep in a state_dict (BatchNorm*, InstanceNorm*, SyncBatchNorm): state,
# not parameters. A file key ending in one of these that no entry of the model holds is a layer the model
# does not have (or does not keep statistics for): skipped with a warning. Any other unknown key could be a
# misnamed parameter, and stays an error.
TORCH_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _rename(key: str, rename: dict[str, str | None]) -> str | None:
    """The key after the longest matching prefix is replaced; None where that prefix maps to null (dropped)."""
    for old in sorted(rename, key=len, reverse=True):
        if key.startswith(old):
            return None if rename[old] is None else rename[old] + key[len(old):]
    return key


def is_torch_buffer(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in TORCH_BUFFERS


class Weights:
    """What `make_weights` made: parameters (float64), buffers (batchnorm's running statistics; counts as
    int64), every problem, and the file keys skipped as buffers of layers the model does not have."""

    def __init__(self, params: dict, buffers: dict, problems: list[WeightProblem], skipped: list[str]):
        self.params, self.buffers, self.problems, self.skipped = params, buffers, problems, skipped


def make_weights(layout: list[EntryInfo], w, base_dir: Path, rng: np.random.Generator,
                 limit: int | None = None, used: int = 0) -> Weights:
    """Parameters and buffers: initialised (buffers as PyTorch resets them), then the file's, then `set`."""
    check_param_count(layout, limit, used)
    problems: list[WeightProblem] = []
    shapes: dict[str, tuple[int, ...]] = {}
    owner: dict[str, EntryInfo] = {}
    for lay in layout:
        for name, shape in lay.params.items():
            shapes[name], owner[name] = shape, lay
    buffer_shapes: dict[str, tuple[int, ...]] = {}
    buffers: dict[str, np.ndarray] = {}
    for lay in layout:
        for name, shape in lay.buffers.items():
            buffer_shapes[name] = tuple(shape)
            buffers[name] = handler(lay.type).initial_buffer(name, tuple(shape))
    params: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        fixed = handler(owner[name].type).fixed_init(owner[name], name, shape) if w.init != "none" else None
        value = fixed if fixed is not None else _init_one(name, shape, owner[name], w, rng)
        if value is not None:
            if handler(owner[name].type).is_recurrent_matrix(name):
                value = value * w.recurrent_gain
            params[name] = np.asarray(value, dtype=np.float64)
    known = {**shapes, **buffer_shapes}
    skipped: list[str] = []
    given: set[str] = set()   # buffers the file or `set` gave

    def put(key: str, arr, shape_is: str, where: tuple) -> None:
        """*shape_is*: how a wrong shape's message starts ("{key} has shape", "found shape")."""
        if key in buffer_shapes:
            arr = np.asarray(arr)
            if arr.shape != buffer_shapes[key]:
                problems.append(WeightProblem(where, f"{shape_is} {arr.shape}; expected {buffer_shapes[key]}"))
                return
            is_count = key.endswith(".num_batches_tracked")
            if is_count and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and np.all(arr >= 0)
                                 and np.all(arr < 2.0 ** 62)):
                problems.append(WeightProblem(where, f"{key} holds {arr.tolist()}; expected a count (a whole number "
                                              ">= 0)"))
                return
            buffers[key] = arr.astype(np.int64) if is_count else arr.astype(np.float64)
            given.add(key)
            return
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape != shapes[key]:
            problems.append(WeightProblem(where, f"{shape_is} {arr.shape}; expected {shapes[key]}"))
            return
        params[key] = arr

    if w.file is not None:
        try:
            loaded = read_weight_file(base_dir / w.file, w.file, limit)
        except WeightProblem as exc:
            problems.append(exc)
            loaded = {}
        for raw_key, arr in loaded.items():
            key = _rename(raw_key, w.rename)
            if key is None:
                continue   # renamed to null: dropped on purpose
            shown = key if key == raw_key else f"{raw_key} (renamed {key})"
            if key not in known:
                if is_torch_buffer(key):
                    skipped.append(shown)
                    continue
                problems.append(WeightProblem(("file",), f"key {shown} matches no parameter{suggest(key, known)}; "
                                              f"expected one of {', '.join(known) or 'none'}"))
                continue
            put(key, arr, f"{shown} has shape", ("file",))

    for key, value in w.set.items():
        where = ("set", key)
        if key not in known:
            problems.append(WeightProblem(where, f"{key} matches no parameter{suggest(key, known)}; "
                                          f"expected one of {', '.join(known) or 'none'}"))
            continue
        shape = known[key]
        try:
            arr = numbers(value, f"numbers of shape {shape}")
        except NotNumbers as exc:
            problems.append(WeightProblem(where + exc.sub, exc.message))
            continue
        if arr.ndim == 0:
            arr = np.full(shape, float(arr))
        put(key, arr, "found shape", where)

    for name, shape in shapes.items():
        if name not in params and not any(p.key == ("file",) and "cannot" in p.message for p in problems):
            problems.append(WeightProblem(("init",), f"parameter {name} of shape {shape} is missing: "
                                          "init is none and neither the file nor `set` gives it"))
    if w.init == "none" and not any(p.key == ("file",) and "cannot" in p.message for p in problems):
        # running statistics are what an eval-mode batchnorm computes with: starting them at 0 and 1 would
        # silently be another model (num_batches_tracked may be absent, as in PyTorch's older state_dicts)
        for name, shape in buffer_shapes.items():
            if name not in given and not name.endswith(".num_batches_tracked"):
                problems.append(WeightProblem(("init",), f"buffer {name} of shape {shape} is missing: init is none "
                                              "and neither the file nor `set` gives it (a file saved from "
                                              "named_parameters() has no running statistics: save the module's "
                                              "state_dict())"))
    return Weights(params, buffers, problems, skipped)


def skipped_warning(skipped: list[str]) -> str:
    """The loader's one line about file keys skipped as buffers of layers the model does not have."""
    shown = ", ".join(skipped[:8]) + (f" and {len(skipped) - 8} more" if len(skipped) > 8 else "")
    return (f"skipped {len(skipped)} key(s) that are buffers of layers this model does not have (or that keep no "
            f"running statistics): {shown}; they hold state, not parameters, so nothing is lost for the entries "
            "rnntui runs (rename their prefix to null to drop them without this warning)")
