"""`from_torch(module, x)`: the module as a scenario, run by the normal loader and engine, checked against
the module's own output before the trace is returned."""
from __future__ import annotations

import inspect
import json
from contextlib import contextmanager

import numpy as np

from rnntui.engine import keys
from rnntui.torch_bridge import FromTorchError, import_torch
from rnntui.torch_bridge.chain import Reader
from rnntui.torch_bridge.graph import shapes as graph_shapes
from rnntui.torch_bridge.graph import trace as trace_graph
from rnntui.torch_bridge.text import flow, scenario_text

LOSSES = ("sum", "mse", "cross_entropy", "nll")
CLASSES = ("cross_entropy", "nll")   # losses whose target holds class indices
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


def _dtype(module, x, given=()) -> str:
    torch = import_torch()
    kinds = {p.dtype for p in module.parameters()}
    for t in (x, *given):
        if t.dtype.is_floating_point:
            kinds.add(t.dtype)
    if len(kinds) > 1:
        raise FromTorchError(f"the module's parameters and its inputs mix dtypes {sorted(str(k) for k in kinds)}; rnntui runs one "
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


def _input_lines(roles: tuple, x: np.ndarray, lengths, indent: int = 2) -> list[str]:
    """One input's scenario keys (written *indent* spaces deep): an image, token ids or a batch of sequences."""
    if "C" in roles:  # one image
        return [f"image: {flow(x[0], indent)}"]
    if len(roles) == 2:  # token ids, (B, T)
        ids = x.transpose(_order(roles, ("B", "T")))
        rows = [row[: int(n)] for row, n in zip(ids, lengths)] if lengths is not None else list(ids)
        pad = " " * (indent + 2)
        return ["tokens: [\n" + ",\n".join(pad + flow(np.asarray(r, dtype=np.int64)) for r in rows) + "]"]
    lines = [f"batch: {flow(x.transpose(_order(roles, ('B', 'T', 'F'))), indent)}"]
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


def _check_target(loss: str, t: np.ndarray, out_roles: tuple, out_shape: tuple, lengths,
                  flat: tuple | None = None) -> tuple:
    """The target checked against the module's output in the user's own terms (target=, its shape, the
    first bad value and where it is), before it is written: the loader would name the generated text.
    *flat*: the shape the user passed where rnntui split its first axis (out.view(-1, n)), whose index is
    the one named. Returns the target's roles."""
    if loss == "mse":
        if t.shape != out_shape:
            raise FromTorchError(f"target= has shape {t.shape}; loss='mse' needs the module's output shape {out_shape}")
        return out_roles
    classes = out_shape[out_roles.index("F")]
    roles = tuple(r for r in out_roles if r != "F")
    want = tuple(n for n, r in zip(out_shape, out_roles) if r != "F")
    if t.shape != want:
        raise FromTorchError(f"target= has shape {t.shape}; loss={loss!r} needs one class index per "
                             f"{'(sample, step)' if 'T' in roles else 'sample'}: shape {want}, the module's output "
                             f"{out_shape} without its class axis (axis {out_roles.index('F')})")
    bad = np.argwhere(_real_steps(t.shape, roles, lengths) & ((t < 0) | (t >= classes)))
    if len(bad):
        first = tuple(bad[0])
        where = f" (sample {first[roles.index('B')]}, step {first[roles.index('T')]})" if "T" in roles else \
            f" (sample {first[roles.index('B')]})"
        named = _at(first) if flat is None else \
            _at(np.unravel_index(np.ravel_multi_index(first, t.shape), flat))   # the user's index, not the split's
        raise FromTorchError(f"target[{named}] = {int(t[first])}{where}: expected a class index in 0..{classes - 1} "
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


def _target_lines(chain, loss: str, target, out_roles: tuple, lengths, ragged: bool, out_shape: tuple,
                  flat: tuple | None = None) -> list[str]:
    if loss == "sum":
        if target is not None:
            raise FromTorchError("loss='sum' takes no target (the sum of the output); use loss='mse' or "
                                 "'cross_entropy' with a target")
        return []
    if target is None:
        raise FromTorchError(f"loss={loss!r} needs a target")
    t = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach") else target)
    if loss in CLASSES:
        if t.dtype.kind not in "iu":
            raise FromTorchError(f"target= holds class indices (integers) for {loss}; found dtype {t.dtype}")
        if "F" not in out_roles or len(out_roles) not in (2, 3):
            raise FromTorchError(f"{loss} needs an output of class scores on its last axis")
    roles = _check_target(loss, t, out_roles, out_shape, lengths, flat)
    if loss in CLASSES:
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
    made = ", ".join(f"{keys.entry_prefix(i)}: {s}" for i, s in enumerate(chain.sources)) if chain is not None else ""
    nn = import_torch().nn
    # a module handed over in train() mode runs as in eval(): say so where the run is shown, not only in the docs
    moded = [m for m in module.modules() if m.training and
             isinstance(m, (nn.Dropout, nn.modules.batchnorm._BatchNorm))]
    note = (" The module was in train() mode; this run is as in model.eval(): dropout off, batchnorm with its "
            "running statistics.") if moded else ""
    return (f"Built by rnntui.from_torch from {cls.__qualname__}" + (f" ({where})" if where else "") +
            f" with its weights and input." + (f" {made}." if made else "") + note)


def _flat_tensors(value) -> list:
    torch = import_torch()
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat_tensors(v)]
    return []


def bind(module, args: tuple, kwargs: dict | None, lengths) -> tuple[dict, dict, tuple, dict, dict]:
    """The forward's own arguments by its parameter names: (names: which is x and which the lengths,
    the given tensors besides x, the positional and keyword arguments to call it with, every bound argument
    by name). *lengths* is the
    forward's second argument, as `forward(x, lengths)` takes it, unless args already hold it."""
    torch = import_torch()
    if kwargs is not None and not isinstance(kwargs, dict):
        raise FromTorchError(f"kwargs: found {type(kwargs).__name__}; expected a dict of the forward's keyword arguments")
    kwargs = dict(kwargs or {})
    call = (args[0], lengths, *args[1:]) if lengths is not None else tuple(args)
    try:
        bound = inspect.signature(module.forward).bind_partial(*call, **kwargs)
    except TypeError as exc:
        raise FromTorchError(f"{type(module).__name__}.forward{inspect.signature(module.forward)} cannot take the "
                             f"arguments given ({exc})") from None
    names = list(bound.arguments)
    if not names:
        raise FromTorchError(f"{type(module).__name__}.forward takes no arguments; from_torch passes x")
    found = {"x": names[0]}
    if lengths is not None:
        found["lengths"] = names[1]
    given = {}
    for name, value in bound.arguments.items():
        if name in found.values():
            continue
        if isinstance(value, torch.Tensor) or (_flat_tensors(value) and isinstance(value, (tuple, list))):
            if not all(isinstance(t, torch.Tensor) for t in (value if isinstance(value, (tuple, list)) else [value])):
                raise FromTorchError(f"`{name}` mixes tensors and other values; from_torch takes a tensor or a tuple "
                                     "of tensors (an LSTM's (h, c))")
            given[name] = value
    return found, given, call, kwargs, dict(bound.arguments)


def _check_size(module, x, target, given=()) -> None:
    """Count, before anything is traced, copied or written, the numbers the scenario's text would hold (the
    inputs and the target: the parameters go to a file beside it, text.INLINE_PARAMS) and the memory the
    parameters take (a copy in the module, one read into rnntui, one in the file, the gradients)."""
    from rnntui.engine.run import available_memory

    params = sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())
    inline = int(x.numel()) + sum(int(t.numel()) for t in given) + (
        0 if target is None else int(target.numel()) if hasattr(target, "numel") else int(np.size(target)))
    if inline > MAX_INLINE:
        raise FromTorchError(
            f"{type(module).__qualname__}'s inputs hold {inline:,} numbers (x{', the tensors given' if given else ''}"
            f"{' and the target' if target is not None else ''}); from_torch writes each into the run's scenario "
            f"text and reads it back, which takes minutes past {MAX_INLINE:,}; expected at most that: debug a "
            "shorter x or a smaller batch")
    need, have = 4 * 8 * params, available_memory()
    if need > have:
        raise FromTorchError(
            f"{type(module).__qualname__} holds {params:,} numbers in its parameters and buffers; reading them into "
            f"rnntui takes about {need / 2**30:.1f} GiB beside the module, more than the {have / 2**30:.1f} GiB "
            "available: debug a smaller configuration of the model (fewer hidden units or layers)")


def build(module, x, *args, target=None, loss: str = "sum", lengths=None, train: dict | None = None,
          kwargs: dict | None = None, output: int = 0, vocab=None, class_names=None, beside: dict | None = None):
    """(scenario text, expected output in rnntui's layout, torch name -> rnntui parameter name). *x* and
    *args*, *kwargs* are the forward's own arguments; *output* picks the element of a returned tuple."""
    torch = import_torch()
    if not isinstance(module, torch.nn.Module):
        raise FromTorchError(f"from_torch takes a torch.nn.Module; found {type(module).__name__}")
    if not isinstance(x, torch.Tensor):
        raise FromTorchError(f"x must be a torch.Tensor; found {type(x).__name__}")
    if loss not in LOSSES:
        raise FromTorchError(f"loss={loss!r}; expected one of {', '.join(LOSSES)}")
    if isinstance(output, bool) or not isinstance(output, int):
        raise FromTorchError(f"output: found {output!r}; expected the index of the returned tuple's element the "
                             "loss reads (0: the first)")
    names, given, call, kw, bound = bind(module, (x, *args), kwargs, lengths)
    given_tensors = [t for v in given.values() for t in _flat_tensors(v)]
    _check_size(module, x, target, given_tensors)
    dtype = _dtype(module, x, given_tensors)
    lens = None
    if lengths is not None:
        lens = np.asarray(lengths.cpu().numpy() if hasattr(lengths, "cpu") else lengths).astype(np.int64)
    with _eval_mode(module):
        def as_loop(exc):
            """A loop over the steps, read by running forward (loops.py); *exc* where there is none."""
            from rnntui.torch_bridge.loops import build as build_loop

            made = build_loop(module, x, call, kw, output=output, target=target, loss=loss, dtype=dtype,
                              train=_train_section(train), name=f"from_torch: {type(module).__qualname__}",
                              description=_description(module, None), beside=beside,
                              inputs={names["x"]: x, **{k: v for k, v in given.items() if isinstance(v, torch.Tensor)}})
            if made is None:
                raise exc
            return made

        try:
            graph, originals = trace_graph(module, bound)
        except FromTorchError as exc:
            from rnntui.torch_bridge.graph import LOOPS

            if LOOPS not in str(exc):
                raise
            return as_loop(exc)   # torch.fx cannot follow a Python loop over a tensor
        reader = Reader(module, graph, x, originals, lengths is not None, names=names, given=given)
        reader.output = output
        reader.train = train is not None
        reader.shapes = graph_shapes(module, graph, bound)
        try:
            chain = reader.read()
        except FromTorchError as exc:
            from rnntui.engine.ops.cells import CELLS

            cells = tuple(getattr(torch.nn, c.title) for c in CELLS)   # nn.LSTMCell, ...: one per family
            stepped = [n for n in graph.nodes if n.op == "call_module" and isinstance(reader.mods[n.target], cells)]
            if not stepped:
                raise
            return as_loop(exc)   # a loop of a fixed length, which torch.fx unrolled: a cell stepped by hand
        if chain.x_roles and len(chain.x_roles) == 2:
            _check_ids(chain, x.detach().cpu().numpy())
        try:
            with torch.no_grad():
                expected = module(*call, **kw)
        except Exception as exc:  # noqa: BLE001 - the module itself fails on x: the user's to fix, in their words
            from rnntui.torch_bridge.graph import _frame_of
            first = (str(exc).strip().splitlines() or ["no message"])[0]
            raise FromTorchError(f"{_frame_of(exc)}: {type(module).__qualname__} fails on this x itself "
                                 f"({type(exc).__name__}: {first}); from_torch runs it to check rnntui's run") from None
    if isinstance(expected, (tuple, list)):
        expected = expected[output]   # in range: the reader checked it against the same return
    xs = reader.x.detach().cpu().numpy()   # x as the model reads it (an image batch reshaped into rows)
    flat = None
    if chain.merged and isinstance(expected, torch.Tensor):
        # out.view(-1, n) merged two of x's axes: the output (and its target) split back into them
        sizes = dict(zip(chain.x_roles, xs.shape))
        split = tuple(sizes[r] for r in chain.merged)
        merged_shape = tuple(expected.shape)
        expected = expected.reshape(split + tuple(expected.shape[1:]))
        want = merged_shape[:1] + (tuple(merged_shape[1:]) if loss not in CLASSES else ())
        if target is not None and hasattr(target, "reshape") and tuple(np.shape(target)) == want:
            target = target.reshape(split + want[1:])
            flat = want   # the target's entries named by the user's own index into it, not the split's
        elif target is not None and loss != "sum" and tuple(np.shape(target)) != split + want[1:]:
            # said of the output the module returns, not of the split rnntui reads it as
            what = "one class index per row" if loss in CLASSES else "the shape"
            raise FromTorchError(f"target= has shape {tuple(np.shape(target))}; loss={loss!r} needs {what} of the "
                                 f"module's output {merged_shape}: shape {want} (its view(-1, ...) merged axes of "
                                 f"sizes {split}, so {split + want[1:]} is read too)")
        chain.out_roles = tuple(chain.merged) + tuple(chain.out_roles[1:])
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
    last = chain.entries[-1].config.get("activation", chain.entries[-1].config.get("function"))
    if loss == "cross_entropy" and last == "softmax":
        raise FromTorchError("the module ends in a softmax: torch's cross_entropy would apply a second one to its "
                             "probabilities, while rnntui's reads the logits before it; return the logits, or use "
                             "loss='mse'")
    if loss == "nll" and last != "log_softmax":
        raise FromTorchError("loss='nll' reads log-probabilities (F.nll_loss): the module's output must end in a "
                             "log_softmax over its classes (F.log_softmax(x, dim=-1) or nn.LogSoftmax); use "
                             "loss='cross_entropy' for logits")
    ragged = len(chain.x_roles) == 2  # token ids of different lengths are written ragged, so is their target
    params = {f"{i}.{name}": value for i, e in enumerate(chain.entries) for name, value in e.params.items()}
    text = scenario_text(
        name=f"from_torch: {type(module).__qualname__}", description=_description(module, chain), dtype=dtype,
        mode=None if chain.graph else chain.mode, input_lines=_all_inputs(chain, names["x"], xs, lens, vocab),
        entries=list(zip(_configs(chain, names["x"]), chain.sources)), params=params, loss=loss,
        target_lines=_target_lines(chain, loss, target, chain.out_roles, lens, ragged and lens is not None,
                                   tuple(expected.shape), flat), train=_train_section(train),
        extra_lines=_class_names_lines(class_names, loss), beside=beside)
    return text, out, dict(chain.torch_names)


def _all_inputs(chain, x_name: str, xs: np.ndarray, lens, vocab) -> list[str]:
    """The scenario's `input:` keys, or with tensors besides x read as inputs (a second sentence), `inputs:`
    named as the forward's parameters, x first."""
    first = _input_lines(chain.x_roles, xs, lens) + _vocab_lines(chain.x_roles, vocab, xs, lens, "x")
    if not chain.inputs:
        return ["input:"] + ["  " + line for line in first]
    lines = ["inputs:", f"  {x_name}:"] + ["    " + line for line in _input_lines(chain.x_roles, xs, lens, 4)
                                          + _vocab_lines(chain.x_roles, vocab, xs, lens, "x")]
    for name, roles, value in chain.inputs:
        lines.append(f"  {name}:")
        lines += ["    " + line for line in _input_lines(roles, value, None, 4)
                  + _vocab_lines(roles, vocab, value, None, name)]
    return lines


def _configs(chain, x_name: str = "input") -> list[dict]:
    """Each entry's scenario keys: a chain's as they are; a graph's with its node id (`n{i}`), what it reads
    where that is not the node above (`from:`), and `take: final` on the recurrent node whose final state
    the model reads (a chain's many-to-one)."""
    if not chain.graph:
        return [e.config for e in chain.entries]
    out = []
    for i, (e, reads) in enumerate(zip(chain.entries, chain.reads)):
        cfg = {"id": f"n{i}", **e.config}
        if reads is not None:
            reads = [x_name if r == "input" and chain.inputs else r for r in reads]
            cfg["from"] = reads[0] if len(reads) == 1 else list(reads)
        if i in chain.final_entries:
            cfg["take"] = "final"
        out.append(cfg)
    return out


def _words(value, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
        raise FromTorchError(f"{what}: found {type(value).__name__}; expected a list of strings")
    return list(value)


def _vocab_lines(roles: tuple, vocab, ids=None, lengths=None, what: str = "x") -> list[str]:
    """`vocab=` (a list, id = position, or {token: id} with ids 0..V-1) beside token ids: `vocab:` in the
    scenario's input, which names the ids on screen and bounds them. *ids* (axes *roles*, the argument
    *what* as the forward takes it) are checked against it here, in the user's terms: the loader would name
    the generated scenario's key."""
    if vocab is None:
        return []
    if len(roles) != 2:
        raise FromTorchError("vocab= names token ids; x here is not token ids (an integer (batch, time) tensor "
                             "read by an nn.Embedding)")
    if isinstance(vocab, dict):
        ids = sorted(vocab.values()) if all(isinstance(i, int) for i in vocab.values()) else None
        if ids != list(range(len(vocab))):
            raise FromTorchError("vocab= as a dict maps each token to its id, the ids 0..V-1 each once")
        vocab = sorted(vocab, key=vocab.get)
    words = _words(vocab, "vocab")
    if len(set(words)) != len(words):
        twice = next(w for w in words if words.count(w) > 1)
        raise FromTorchError(f"vocab= lists {twice!r} twice; each token has one id")
    if ids is not None:
        ids = np.asarray(ids)
        bad = np.argwhere(_real_steps(ids.shape, roles, lengths) & ((ids < 0) | (ids >= len(words))))
        if len(bad):
            at = tuple(bad[0])
            raise FromTorchError(
                f"vocab= has {len(words)} entries (ids 0..{len(words) - 1}) but {what}[{_at(at)}] (sample "
                f"{at[roles.index('B')]}, step {at[roles.index('T')]}) holds id {int(ids[at])}"
                + (f"; {len(bad)} ids are outside it" if len(bad) > 1 else "") + ": give a vocab= with one entry per id")
    return ["vocab: " + json.dumps(words)]


def _class_names_lines(class_names, loss: str) -> list[str]:
    if class_names is None:
        return []
    if loss not in CLASSES:
        raise FromTorchError(f"class_names= names the classes of a cross_entropy or nll loss; loss here is {loss!r}")
    return ["class_names: " + json.dumps(_words(class_names, "class_names"))]


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


def from_torch(module, x, *args, target=None, loss: str = "sum", lengths=None, train: dict | None = None,
               kwargs: dict | None = None, output: int = 0, vocab=None, class_names=None):
    from rnntui.engine import run_scenario
    from rnntui.errors import ScenarioError
    from rnntui.scenario.loader import load_scenario

    beside: dict = {}
    text, expected, names = build(module, x, *args, target=target, loss=loss, lengths=lengths, train=train,
                                  kwargs=kwargs, output=output, vocab=vocab, class_names=class_names, beside=beside)
    source = f"from_torch({type(module).__qualname__}).yaml"
    try:
        if beside:   # the parameters in a file beside the text, as save_scenario writes them
            import tempfile
            from pathlib import Path

            from safetensors.numpy import save_file

            from rnntui.torch_bridge.text import BESIDE

            with tempfile.TemporaryDirectory(prefix="rnntui-from-torch-") as folder:
                save_file({k: np.ascontiguousarray(v) for k, v in beside.items()}, str(Path(folder) / BESIDE))
                sc = load_scenario(Path(folder) / source, text=text)
        else:
            sc = load_scenario(source, text=text)
        trace = run_scenario(sc)
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
    if beside:   # save_scenario writes them beside the text, under the name it gives the file
        from rnntui.torch_bridge.text import BESIDE

        trace.beside = (BESIDE, beside)
    return trace
