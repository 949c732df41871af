"""`from_torch(module, x)`: the module as a scenario, run by the normal loader and engine, checked against
the module's own output before the trace is returned."""
from __future__ import annotations

import inspect
from contextlib import contextmanager

import numpy as np

from rnntui.torch_bridge import FromTorchError, import_torch
from rnntui.torch_bridge.chain import Reader
from rnntui.torch_bridge.graph import trace as trace_graph
from rnntui.torch_bridge.text import flow, scenario_text

LOSSES = ("sum", "mse", "cross_entropy")
# numbers written into the scenario's text (parameters, buffers, x, the target) and read back by the YAML
# loader, a few thousand a second: past this, from_torch would take minutes, then hours, before it answered
MAX_INLINE = 250_000
TOLERANCE = {"float64": 1e-7, "float32": 1e-4}   # of the output's scale: BLAS order, not a mapping mistake


@contextmanager
def _eval_mode(module):
    """The module in eval mode (dropout off, as rnntui runs without `train:`), each submodule's own mode
    given back afterwards."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _dtype(module, x) -> str:
    torch = import_torch()
    kinds = {p.dtype for p in module.parameters()}
    if x.dtype.is_floating_point:
        kinds.add(x.dtype)
    if len(kinds) > 1:
        raise FromTorchError(f"the module's parameters and x mix dtypes {sorted(str(k) for k in kinds)}; rnntui runs one "
                             "(float32 or float64)")
    kind = kinds.pop() if kinds else torch.float64
    if kind not in (torch.float32, torch.float64):
        raise FromTorchError(f"dtype {kind}: rnntui runs float32 or float64 (module.double() or module.float())")
    return "float64" if kind == torch.float64 else "float32"


def _order(roles: tuple, want: tuple) -> list[int]:
    return [roles.index(r) for r in want]


def _rnntui_order(roles: tuple) -> tuple:
    """The axes of rnntui's array for a tensor with *roles*: (T, B, F) sequences, (B, F), (B, C, H, W)."""
    if "T" in roles:
        return ("T", "B", "F")
    return ("B", "C", "H", "W") if "C" in roles else ("B", "F")


def _input_lines(chain, x: np.ndarray, lengths) -> list[str]:
    roles = chain.x_roles
    if "C" in roles:  # one image
        return [f"image: {flow(x[0], 2)}"]
    if len(roles) == 2:  # token ids, (B, T)
        ids = x.transpose(_order(roles, ("B", "T")))
        rows = [row[: int(n)] for row, n in zip(ids, lengths)] if lengths is not None else list(ids)
        return ["tokens: [\n" + ",\n".join("    " + flow(np.asarray(r, dtype=np.int64)) for r in rows) + "]"]
    lines = [f"batch: {flow(x.transpose(_order(roles, ('B', 'T', 'F'))), 2)}"]
    if lengths is not None:
        lines.append("lengths: " + flow(np.asarray(lengths, dtype=np.int64)))
    return lines


def _at(index) -> str:
    return ", ".join(str(int(i)) for i in index)


def _real_steps(shape: tuple, roles: tuple, lengths) -> np.ndarray:
    """True where a target (axes *roles*) is read: every entry, or with packed lengths each sample's real steps."""
    if lengths is None or "T" not in roles:
        return np.ones(shape, dtype=bool)
    steps = np.arange(shape[roles.index("T")]).reshape([-1 if r == "T" else 1 for r in roles])
    lens = np.asarray(lengths).reshape([-1 if r == "B" else 1 for r in roles])
    return np.broadcast_to(steps < lens, shape)


def _check_target(loss: str, t: np.ndarray, out_roles: tuple, out_shape: tuple, lengths) -> tuple:
    """The target checked against the module's output in the user's own terms (target=, its shape, the
    first bad value and where it is), before it is written: the loader would name the generated text.
    Returns the target's roles."""
    if loss == "mse":
        if t.shape != out_shape:
            raise FromTorchError(f"target= has shape {t.shape}; loss='mse' needs the module's output shape {out_shape}")
        return out_roles
    classes = out_shape[out_roles.index("F")]
    roles = tuple(r for r in out_roles if r != "F")
    want = tuple(n for n, r in zip(out_shape, out_roles) if r != "F")
    if t.shape != want:
        raise FromTorchError(f"target= has shape {t.shape}; loss='cross_entropy' needs one class index per "
                             f"{'(sample, step)' if 'T' in roles else 'sample'}: shape {want}, the module's output "
                             f"{out_shape} without its class axis (axis {out_roles.index('F')})")
    bad = np.argwhere(_real_steps(t.shape, roles, lengths) & ((t < 0) | (t >= classes)))
    if len(bad):
        first = tuple(bad[0])
        where = f" (sample {first[roles.index('B')]}, step {first[roles.index('T')]})" if "T" in roles else \
            f" (sample {first[roles.index('B')]})"
        raise FromTorchError(f"target[{_at(first)}] = {int(t[first])}{where}: expected a class index in 0..{classes - 1} "
                             f"(the model's output has {classes} classes)"
                             + (f"; {len(bad)} values are out of range" if len(bad) > 1 else ""))
    return roles


def _check_ids(chain, x: np.ndarray) -> None:
    """Token ids within the embedding's table: torch's own refusal (IndexError: index out of range in self)
    names neither the value nor where it is."""
    first = chain.entries[0]
    if first.config["type"] != "embedding":
        return
    n = first.config["num_embeddings"]
    bad = np.argwhere((x < 0) | (x >= n))
    if len(bad):
        at = tuple(bad[0])
        raise FromTorchError(f"x[{_at(at)}] = {int(x[at])}: expected a token id in 0..{n - 1} ({chain.sources[0]} has "
                             f"{n} embeddings)" + (f"; {len(bad)} ids are out of range" if len(bad) > 1 else ""))


def _target_lines(chain, loss: str, target, out_roles: tuple, lengths, ragged: bool, out_shape: tuple) -> list[str]:
    if loss == "sum":
        if target is not None:
            raise FromTorchError("loss='sum' takes no target (the sum of the output); use loss='mse' or "
                                 "'cross_entropy' with a target")
        return []
    if target is None:
        raise FromTorchError(f"loss={loss!r} needs a target")
    t = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach") else target)
    if loss == "cross_entropy":
        if t.dtype.kind not in "iu":
            raise FromTorchError(f"target= holds class indices (integers) for cross_entropy; found dtype {t.dtype}")
        if "F" not in out_roles or len(out_roles) not in (2, 3):
            raise FromTorchError("cross_entropy needs an output of class scores on its last axis")
    roles = _check_target(loss, t, out_roles, out_shape, lengths)
    if loss == "cross_entropy":
        want = ("B", "T") if "T" in roles else ("B",)
    else:
        want = ("B", "T", "F") if "T" in out_roles else tuple(_rnntui_order(out_roles))
    t = t.transpose(_order(roles, want))
    if "T" in want and ragged:
        return ["target: [\n" + ",\n".join("    " + flow(row[: int(n)], 4) for row, n in zip(t, lengths)) + "]"]
    return [f"target: {flow(t, 2)}"]


def _description(module, chain) -> str:
    cls = type(module)
    try:
        where = inspect.getsourcefile(cls)
    except (TypeError, OSError):  # a class typed into a REPL has no file
        where = None
    made = ", ".join(f"model.{i}: {s}" for i, s in enumerate(chain.sources))
    nn = import_torch().nn
    # a module handed over in train() mode runs as in eval(): say so where the run is shown, not only in the docs
    moded = [m for m in module.modules() if m.training and
             isinstance(m, (nn.Dropout, nn.modules.batchnorm._BatchNorm))]
    note = (" The module was in train() mode; this run is as in model.eval(): dropout off, batchnorm with its "
            "running statistics.") if moded else ""
    return (f"Built by rnntui.from_torch from {cls.__qualname__}" + (f" ({where})" if where else "") +
            f" with its weights and input. {made}.{note}")


def _check_size(module, x, target) -> None:
    """Count the numbers the scenario's text would hold before anything is traced, copied or written."""
    params = sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())
    given = int(x.numel()) + (0 if target is None else int(target.numel()) if hasattr(target, "numel")
                              else int(np.size(target)))
    if params + given > MAX_INLINE:
        raise FromTorchError(
            f"{type(module).__qualname__} and its input hold {params + given:,} numbers ({params:,} in the module's "
            f"parameters and buffers, {given:,} in x{' and the target' if target is not None else ''}); from_torch "
            f"writes each into the run's scenario text and reads it back, which takes minutes past {MAX_INLINE:,}; "
            "expected at most that: debug a smaller configuration of the model (fewer hidden units or layers) or a "
            "shorter x, or save the module's state_dict and write a scenario for it with `rnntui scaffold`, whose "
            "weights are read from the file")


def build(module, x, *, target=None, loss: str = "sum", lengths=None, train: dict | None = None):
    """(scenario text, expected output in rnntui's layout, torch name -> rnntui parameter name)."""
    torch = import_torch()
    if not isinstance(module, torch.nn.Module):
        raise FromTorchError(f"from_torch takes a torch.nn.Module; found {type(module).__name__}")
    if not isinstance(x, torch.Tensor):
        raise FromTorchError(f"x must be a torch.Tensor; found {type(x).__name__}")
    if loss not in LOSSES:
        raise FromTorchError(f"loss={loss!r}; expected one of {', '.join(LOSSES)}")
    _check_size(module, x, target)
    dtype = _dtype(module, x)
    lens = None
    if lengths is not None:
        lens = np.asarray(lengths.cpu().numpy() if hasattr(lengths, "cpu") else lengths).astype(np.int64)
    with _eval_mode(module):
        graph, originals = trace_graph(module, 2 if lengths is not None else 1)
        chain = Reader(module, graph, x, originals, lengths is not None).read()
        if chain.x_roles and len(chain.x_roles) == 2:
            _check_ids(chain, x.detach().cpu().numpy())
        try:
            with torch.no_grad():
                expected = module(x, lengths) if lengths is not None else module(x)
        except Exception as exc:  # noqa: BLE001 - the module itself fails on x: the user's to fix, in their words
            from rnntui.torch_bridge.graph import _frame_of
            first = (str(exc).strip().splitlines() or ["no message"])[0]
            raise FromTorchError(f"{_frame_of(exc)}: {type(module).__qualname__} fails on this x itself "
                                 f"({type(exc).__name__}: {first}); from_torch runs it to check rnntui's run") from None
    xs = x.detach().cpu().numpy()
    if not chain.packed:
        lens = None  # the module did not pack: every sample runs its whole length, as it does in torch
    elif lens.shape != (xs.shape[chain.x_roles.index("B")],):
        raise FromTorchError(f"lengths has shape {lens.shape}; expected one length per sample of x")
    else:
        T = xs.shape[chain.x_roles.index("T")]
        if lens.min() < 1 or lens.max() > T:
            raise FromTorchError(f"lengths {lens.tolist()}: each must be 1 to x's {T} steps")
        if chain.total_length is None and lens.max() < T:
            # pad_packed_sequence pads to the longest sample, so the module's output has that many steps
            xs = np.take(xs, range(int(lens.max())), axis=chain.x_roles.index("T"))
        elif chain.total_length is not None and chain.total_length != T:
            raise FromTorchError(f"pad_packed_sequence(total_length={chain.total_length}) against x's {T} steps; "
                                 "rnntui pads to x's steps")
    if not isinstance(expected, torch.Tensor):
        raise FromTorchError(f"the module returned {type(expected).__name__}; rnntui debugs one output tensor")
    out = expected.detach().cpu().numpy().transpose(_order(chain.out_roles, _rnntui_order(chain.out_roles)))
    if loss == "cross_entropy" and chain.entries[-1].config.get("activation", chain.entries[-1].config.get("function")) \
            == "softmax":
        raise FromTorchError("the module ends in a softmax: torch's cross_entropy would apply a second one to its "
                             "probabilities, while rnntui's reads the logits before it; return the logits, or use "
                             "loss='mse'")
    ragged = len(chain.x_roles) == 2  # token ids of different lengths are written ragged, so is their target
    params = {f"{i}.{name}": value for i, e in enumerate(chain.entries) for name, value in e.params.items()}
    text = scenario_text(
        name=f"from_torch: {type(module).__qualname__}", description=_description(module, chain), dtype=dtype,
        mode=chain.mode, input_lines=_input_lines(chain, xs, lens),
        entries=[(e.config, s) for e, s in zip(chain.entries, chain.sources)], params=params, loss=loss,
        target_lines=_target_lines(chain, loss, target, chain.out_roles, lens, ragged and lens is not None,
                                   tuple(expected.shape)), train=_train_section(train))
    return text, out, dict(chain.torch_names)


def _train_section(train) -> dict | None:
    """`train=`: the scenario's `train:` section as a dict (its keys are checked by the loader)."""
    import json

    if train is None:
        return None
    if not isinstance(train, dict):
        raise FromTorchError(f"train: found {type(train).__name__}; expected a dict like the scenario's train: "
                             "section, e.g. {'iterations': 100, 'optimizer': {'kind': 'adam', 'lr': 0.01}}")
    try:
        json.dumps(train, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FromTorchError(f"train: {exc}; expected plain numbers, strings, lists and dicts") from None
    return train


def from_torch(module, x, *, target=None, loss: str = "sum", lengths=None, train: dict | None = None):
    from rnntui.engine import run_scenario
    from rnntui.errors import ScenarioError
    from rnntui.scenario.loader import load_scenario

    text, expected, names = build(module, x, target=target, loss=loss, lengths=lengths, train=train)
    source = f"from_torch({type(module).__qualname__}).yaml"
    try:
        trace = run_scenario(load_scenario(source, text=text))
    except ScenarioError as exc:  # a combination the chain allowed but rnntui's rules refuse
        # said by key, not by the generated text's file and line: that file exists nowhere
        said = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems)
        raise FromTorchError(f"rnntui cannot run {type(module).__qualname__} as mapped ({said})") from None
    # a training run's own record is of its last iteration; the module's parameters are iteration 0's
    got = np.asarray((trace.iteration(0) if train is not None else trace)["output"])
    # relative to the output's own scale (no floor: outputs of 1e-6 are checked as closely as outputs of 1)
    finite = np.abs(expected[np.isfinite(expected)])
    peak = float(finite.max()) if finite.size else 0.0
    scale = peak if peak > 0 else 1.0
    tol = TOLERANCE[trace.info.dtype] * scale
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=tol, equal_nan=True):
        diff = "shape " + str(got.shape) + " against " + str(expected.shape) if got.shape != expected.shape else \
            f"largest difference {float(np.nanmax(np.abs(got - expected))):.3g} (tolerance {tol:.3g})"
        raise FromTorchError(f"the mapped run's output differs from {type(module).__qualname__}'s own ({diff}); "
                             "rnntui refuses to show a different model")
    trace.torch_names = names
    return trace
