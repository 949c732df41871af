"""Read a traced forward as a chain of rnntui entries, or refuse the first operation that is not one.

Each value of the graph is a `Val`: a tensor flowing down the chain (`data`, with one role per axis:
B batch, T time, F features, C/H/W a feature map, or `?k` for an axis of the input whose role no module
has told yet), or one of the things around it that feed no entry (a recurrent module's (output, h_n)
pair, h_n itself, a zero initial state, sizes and devices, the lengths of a packed batch).

A chain is what rnntui runs: every entry reads the value the entry before it made. A value from
earlier in the chain read again (a residual connection, two heads) is refused, as is every
operation without an entry (`x * 2`, `torch.cumsum`, a Python loop over the steps).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

from rnntui.torch_bridge import FromTorchError, import_torch
from rnntui.torch_bridge.graph import where
from rnntui.torch_bridge.leaves import ACTIVATIONS, Entry, Refused, mapper, module_names, pool, recurrent

FIXED = ("B", "T", "F", "C", "H", "W", "M")   # M: batch and time merged into one axis (out.view(-1, n))
_SYMBOLS = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.matmul: "@",
            operator.floordiv: "//", operator.pow: "**", operator.neg: "unary -", operator.iadd: "+=",
            operator.imul: "*="}
# the functions the reader maps, by name: the dispatch below is built from these, and so is the message
_ACTIVATION_FUNCTIONS = ("relu", "tanh", "sigmoid", "softmax", "log_softmax")      # torch.X, F.X and Tensor.X()
_POOL_ARGS = {  # F.X: its parameters in order, as the module's attributes of the same names
    "max_pool1d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool1d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
}
_POOL_DEFAULTS = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False,
                  "count_include_pad": True, "divisor_override": None}


def chain_words() -> str:
    """What rnntui maps, exactly: the modules of leaves.py's table and the functions this reader maps."""
    acts = "/".join(_ACTIVATION_FUNCTIONS)
    return ("rnntui runs a chain of torch.nn modules (" + ", ".join(module_names()) + "; also inside nn.Sequential, "
            f"nn.ModuleList, nn.ModuleDict) and functions (torch.{acts}, F.{acts}, x.{acts}(), "
            + ", ".join(f"F.{name}" for name in _POOL_ARGS) + ", F.dropout, torch.flatten(x, 1), x.view(x.size(0), -1), "
            "transpose, permute), each reading what the one before returns")


class _Words:
    """chain_words() where a message is formatted (it needs torch, which importing this module does not)."""

    def __format__(self, spec) -> str:
        return chain_words()

    __str__ = chain_words


_CHAIN = _Words()


@dataclass(frozen=True)
class Val:
    kind: str                 # data, result, state, state_pair, cell, half, packed, padded_pair, zeros, meta, lengths,
    #                           given (a tensor, or tuple of them, passed to forward besides x: an initial state)
    roles: tuple = ()         # data: one role per axis
    at: int = 0               # data: how many entries came before it (the chain's head has len(entries))
    entry: int | None = None  # the recurrent entry a result, state, half or packed output comes from
    direct: int | None = None  # data: the recurrent entry whose output this is, untouched (for out[:, -1])
    half: str | None = None   # half: "forward" or "backward" (h_n[-2] / h_n[-1] of a bidirectional module)
    ids: bool = False         # data: token ids (before an embedding)
    packed: bool = False      # result: of a packed input
    value: object = None      # meta: the number (or shape) when it is read from x itself, so known now
    src: str = ""             # data: a tensor passed to forward besides x and read as an input (its name)
    merged: tuple = ()        # data with an M axis: the two roles merged into it, in order (T, B) or (B, T)


@dataclass
class Chain:
    """What the graph says: the entries (with the module each came from), the mode, the axes."""

    entries: list[Entry] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)      # per entry: `self.rnn (nn.LSTM)`
    torch_names: dict[str, str] = field(default_factory=dict)  # module.param -> "{i}.param"
    mode: str = "many-to-many"
    x_roles: tuple = ()       # the input's axes, resolved
    out_roles: tuple = ()     # the output's axes, resolved
    packed: bool = False      # pack_padded_sequence was used
    total_length: int | None = None  # pad_packed_sequence's total_length, when given
    # a graph: per entry what it reads (None: the entry before it; else a list of "input" / "n{k}"), and
    # whether any entry reads other than the one before it or shares another's parameters
    merged: tuple = ()        # the output's first axis is these two of x's axes merged (out.view(-1, n))
    x_shape: tuple | None = None   # x reshaped by forward itself before anything reads it (an image batch
    # read as rows: x.reshape(-1, 28, 28)); None: x as given
    reads: list = field(default_factory=list)
    graph: bool = False
    inputs: list = field(default_factory=list)   # (name, roles, array) of each input besides x
    final_entries: set = field(default_factory=set)   # the recurrent entries whose final state is read (many-to-one)


def val_array(t):
    return t.detach().cpu().numpy()


def _norm_index(i, n: int):
    return i + n if isinstance(i, int) and -n <= i < 0 else i


class Reader:
    def __init__(self, module, graph, x, originals, has_lengths: bool, names: dict | None = None,
                 given: dict | None = None):
        self.torch = import_torch()
        self.module = module
        self.mods = dict(module.named_modules())
        self.graph = graph
        self.x = x
        self.originals = originals
        self.has_lengths = has_lengths
        self.chain = Chain()
        self.binding: dict[str, str] = {}
        self.vals: dict = {}
        self.placeholders = 0
        self.pack_state = None        # None, "packed" (inside a packed run) or "padded" (after pad_packed)
        self.reduced = False
        self.recurrent: dict[int, object] = {}   # entry index -> its torch module
        # id of each parameter mapped so far -> (the module holding it, its entry, its name there)
        self.weights_of: dict[int, tuple[str, int, str]] = {}
        self.pending: list | None = None         # what the next entry reads, where not the entry before it
        self.entry_module: dict[int, str] = {}   # entry -> the module it maps
        self.calls: dict[str, int] = {}          # module -> how many times forward calls it
        for n in graph.nodes:
            if n.op == "call_module":
                self.calls[n.target] = self.calls.get(n.target, 0) + 1
        self.shapes: dict = {}                   # fx node -> the shape of the tensor it made on the given inputs
        self.x_val: Val | None = None
        # the forward's parameter names: which is x, which the lengths; the other tensors given (a hidden state)
        self.names = names or {}
        self.given = given or {}
        self.input_vals: dict[str, Val] = {}     # the given tensors read as inputs, by name
        self.output: int | None = None   # which element of a returned tuple is the model's output
        self.train = False                # a train= replay follows (dropouts must train as PyTorch's)

    # --- messages -------------------------------------------------------------------------------
    def refuse(self, node, why: str):
        raise FromTorchError(f"{where(node)}: {self.op_name(node)}: {why}")

    def op_name(self, node) -> str:
        t = node.target
        if node.op == "call_module":
            return f"nn.{type(self.mods[t]).__name__} (self.{t})"
        if node.op == "call_method":
            return f"Tensor.{t}()"
        if node.op == "get_attr":
            return f"self.{t}"
        if node.op == "call_function":
            if t in _SYMBOLS:
                return f"`{_SYMBOLS[t]}` (operator.{t.__name__})"
            if t is operator.getitem:
                return "indexing `[...]`"
            name = getattr(t, "__name__", repr(t))
            if getattr(self.torch, name, None) is t:
                return f"torch.{name}"
            if getattr(self.torch.nn.functional, name, None) is t:
                return f"torch.nn.functional.{name}"
            return f"{getattr(t, '__module__', '') or ''}.{name}".lstrip(".")
        return str(t)

    # --- axes -----------------------------------------------------------------------------------
    def roles(self, v: Val) -> tuple:
        return tuple(self.binding.get(r, r) for r in v.roles)

    def require(self, node, v: Val, want: dict, what: str) -> tuple:
        """Bind the input's unknown axes so that axis i of *v* has role want[i]; refuse if it cannot."""
        roles = self.roles(v)
        want = {i % len(roles): r for i, r in want.items()}
        for i, r in want.items():
            have = roles[i]
            if have == r:
                continue
            if have in FIXED or r in roles:
                self.refuse(node, f"{what}; here it receives axes {self.shown(v)}")
            self.binding[have] = r
            roles = self.roles(v)
        unknown = [r for r in roles if r not in FIXED]
        left = [r for r in ("B", "T", "F")[:len(self.x_val.roles)] if r not in self.binding.values()]
        if len(unknown) == 1 and len(left) == 1:
            self.binding[unknown[0]] = left[0]
        return self.roles(v)

    def shown(self, v: Val) -> str:
        words = {"B": "batch", "T": "time", "F": "features", "C": "channels", "H": "height", "W": "width",
                 "S": "1 (unsqueezed)", "M": "batch and time merged"}
        return "(" + ", ".join(words.get(r, "batch or time") for r in self.roles(v)) + ")"

    # --- numbers in the code ---------------------------------------------------------------------
    def number(self, node, value, what: str):
        """*value* as a Python int (or a tuple of them): written in the code, or a size read from x itself
        (x.size(1), x.shape[1]), which is known now. Anything else traced is refused here rather than
        reaching int() as an fx value."""
        if isinstance(value, Val):
            if value.kind == "meta" and value.value is not None:
                return value.value
            self.refuse(node, f"{what} is computed from a tensor while the model runs; rnntui needs it as a number "
                        "written in the code (or a size of x, such as x.size(1))")
        if isinstance(value, (tuple, list)):
            return tuple(self.number(node, v, what) for v in value)
        if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
            self.refuse(node, f"{what} is {value!r}; expected a whole number")
        return int(value)

    def flag(self, node, value, what: str) -> bool:
        """*value* as a Python bool, refused when it is traced (a Val is always true to Python)."""
        if isinstance(value, Val):
            self.refuse(node, f"{what} is computed from a tensor while the model runs; rnntui needs True or False "
                        "written in the code")
        return bool(value)

    def x_steps(self) -> int | None:
        roles = self.roles(self.x_val)
        return int(self.x.shape[roles.index("T")]) if "T" in roles else None

    def dtype_words(self) -> str:
        return str(self.x.dtype).replace("torch.", "")

    # --- the chain ------------------------------------------------------------------------------
    def take(self, node, v, what: str, ids: bool = False) -> Val:
        """*v* as the chain's head: a tensor made after the latest entry (token ids only where *ids*)."""
        if not isinstance(v, Val):
            self.refuse(node, f"{what} reads {v!r}, which is not a tensor of the chain; {_CHAIN}")
        if v.kind == "given" and isinstance(v.value, self.torch.Tensor):
            v = self.as_input(node, v)
        if v.kind == "data" and v.ids and not ids:
            self.refuse(node, f"x is {self.dtype_words()} and this is the first {'module' if node.op == 'call_module' else 'operation'} "
                        "on it, which reads floats: pass x.float() (or x.double()), or put an nn.Embedding first if x "
                        "holds token ids")
        why = {
            "result": "this is the (output, h_n) pair a recurrent module returns; take its output "
                      "(`out, _ = self.rnn(x)`) or its final state (`_, h_n = self.rnn(x)`; then h_n[-1])",
            "state": "this is h_n, every layer's and direction's final state; rnntui's many-to-one reads the "
                     "last layer's: h_n[-1] (a bidirectional module: torch.cat([h_n[-2], h_n[-1]], dim=1))",
            "state_pair": "this is an LSTM's (h_n, c_n); take h_n from it (`_, (h_n, _) = self.rnn(x)`)",
            "cell": "c_n, an LSTM's final cell state, feeds no rnntui entry; many-to-one reads h_n[-1]",
            "half": ("this is one direction of a bidirectional module's final state ({half}); rnntui's many-to-one "
                     "reads both side by side, torch.cat([h_n[-2], h_n[-1]], dim=1), as its merge: concat does"),
            "packed": "a PackedSequence feeds only a recurrent module; pad it back with pad_packed_sequence first",
            "padded_pair": "this is pad_packed_sequence's (padded, lengths) pair; take the padded tensor from it",
            "zeros": "a tensor made inside forward can only be a recurrent module's zero initial state here",
            "lengths": "the lengths can only go to pack_padded_sequence",
            "meta": "a size, device or dtype is not a tensor of the chain",
            "arange": "torch.arange(B) is read here only to select each sample's last real step, "
                      "out[torch.arange(B), lengths - 1]",
            "last_steps": "lengths - 1 is read here only to select each sample's last real step, "
                          "out[torch.arange(B), lengths - 1]",
            "images": self.images_words(),
            "given": "a tensor passed to forward besides x feeds only a recurrent module's initial state here "
                     "(self.rnn(x, hidden)); rnntui's chain has one input",
        }
        if v.kind == "data" and "S" in v.roles and what not in ("add", "sub", "mul"):
            self.refuse(node, "reads a value unsqueezed on the time axis; rnntui reads one only in +, - or * with a "
                        "sequence, which broadcasts it over the steps")
        if v.kind != "data":
            half = "h_n[-2], the last layer's forward direction" if v.half == "forward" else \
                "h_n[-1], the last layer's backward direction alone"
            self.refuse(node, why[v.kind].format(half=half))
        self.pending = None
        if v.at != len(self.chain.entries) or v.src:   # a value read again (x + f(x), two heads): `from:`
            self.check_steps(node, v)
            self.pending = [self.ref(v)]
        return v

    def ref(self, v: Val) -> str:
        """The graph's name of the node that made *v*: `input` (x), an input's name, or `n{k}` for entry k."""
        return v.src or "input" if v.at == 0 else f"n{v.at - 1}"

    def as_input(self, node, v: Val) -> Val:
        """A tensor passed to forward besides x, read as data (a second sentence): an input of the graph, named
        as the forward's parameter; its axes told by the modules that read it, as x's are."""
        name = next(k for k, val in self.given.items() if val is v.value)
        known = self.input_vals.get(name)
        if known is not None:
            return known
        t = v.value
        ids = not t.dtype.is_floating_point
        if not ((t.ndim == 2 and ids) or t.ndim == 3):
            self.refuse(node, f"`{name}` of shape {tuple(t.shape)}: a second input is a sequence (batch, time, "
                        "features) or (time, batch, features), or token ids (batch, time)")
        val = Val("data", tuple(f"?{name}.{k}" for k in range(t.ndim)), ids=ids, src=name)
        self.input_vals[name] = val
        self.chain.graph = True
        return val

    def check_steps(self, node, v: Val) -> None:
        """A recurrent entry's every-step output, read after its final state was taken: its node gives one."""
        if v.at - 1 in self.chain.final_entries and "T" in self.roles(v):
            self.refuse(node, "reads every step of a recurrent module whose final state is read too; rnntui's "
                        "recurrent node returns one of them (read the steps through an op such as out[:, -1] "
                        "instead of h_n)")

    def operands(self, node, values, what: str) -> list[str]:
        """The refs of several values an op node reads, each a tensor of the model."""
        refs = []
        for v in values:
            self.take(node, v, what)
            self.check_steps(node, v)
            refs.append(self.ref(v))
        return refs

    def add(self, node, entry: Entry, source: str, v: Val, roles: tuple, **kw) -> Val:
        i = len(self.chain.entries)
        if node.op == "call_module":
            entry = self.share(node, entry, i)
        reads, self.pending = self.pending, None
        if reads is not None or {"op", "same_as", "tie"} & set(entry.config):
            self.chain.graph = True
        if node.op == "call_module":
            self.entry_module[i] = node.target
        self.chain.entries.append(entry)
        self.chain.sources.append(source)
        self.chain.reads.append(reads)
        if node.op == "call_module":
            for name in entry.torch_params:
                self.chain.torch_names[f"{node.target}.{name}"] = f"{i}.{name}"
        return Val("data", roles, at=i + 1, **kw)

    def share(self, node, entry: Entry, i: int) -> Entry:
        """A module called again (`same_as` the node of its first call), or one whose parameters are another
        module's (tied weights: `tie`); torch's named_parameters() lists a shared parameter once, under the
        module that has it first, and so does torch_names."""
        m = self.mods[node.target]
        own = dict(m.named_parameters())
        shared = {n: self.weights_of[id(p)] for n, p in own.items() if id(p) in self.weights_of}
        for n, p in own.items():
            self.weights_of.setdefault(id(p), (str(node.target), i, n))
        if not shared:
            return entry
        self.chain.graph = True
        firsts = {(t, k) for t, k, _ in shared.values()}
        if len(shared) == len(own) and len(firsts) == 1 and next(iter(firsts))[0] == node.target:
            k = next(iter(firsts))[1]
            cfg = {"same_as": f"n{k}"}
            if "take" in entry.config:
                cfg["take"] = entry.config["take"]
            return Entry(cfg)
        tie = {}
        for name, (target, k, theirs) in shared.items():
            other = self.chain.entries[k]
            if name not in entry.params or theirs not in other.params or \
                    entry.params[name].shape != other.params[theirs].shape:
                self.refuse(node, f"self.{node.target}.{name} is self.{target}.{theirs}; rnntui ties a parameter of the "
                            "same name and shape only (an output layer's weight to an embedding's)")
            tie[name] = f"n{k}.{theirs}"
        params = {n: a for n, a in entry.params.items() if n not in tie}
        return Entry({**entry.config, "tie": tie}, params, tuple(n for n in entry.torch_params if n not in tie))

    # --- nodes ----------------------------------------------------------------------------------
    def read(self) -> Chain:
        out = None
        for node in self.graph.nodes:
            if node.op == "output":
                out = node
                break
            try:
                self.vals[node] = self.visit(node)
            except FromTorchError:
                raise
            except Exception as exc:  # noqa: BLE001 - a form no rule foresaw: still its op and its line
                self.refuse(node, f"rnntui cannot read this use of it ({type(exc).__name__}: {exc}); {_CHAIN}")
        result = self.arg(out.args[0])
        if isinstance(result, (tuple, list)) and self.output is not None:
            if not -len(result) <= self.output < len(result):
                raise FromTorchError(f"output={self.output}: {type(self.module).__name__}.forward returns {len(result)} "
                                     f"values; expected 0 to {len(result) - 1}")
            result = result[self.output]
        if isinstance(result, (tuple, list, dict)):
            raise FromTorchError(f"{type(self.module).__name__}.forward returns {type(result).__name__} of "
                                 f"{len(result)} values; rnntui debugs one output (return only the model's output)")
        if not self.chain.entries:
            raise FromTorchError(f"{type(self.module).__name__} has no module rnntui can map; {_CHAIN}")
        if self.x_val is not None and self.x_val.kind == "images":
            raise FromTorchError(self.images_words())
        last = self.take(out, result, "the returned value")
        roles = self.roles(last)
        if last.merged:
            self.chain.merged = tuple(self.binding.get(r, r) for r in last.merged)
        if any(r not in FIXED for r in roles) or any(r not in FIXED for r in self.roles(self.x_val)):
            raise FromTorchError(f"{type(self.module).__name__}: no module tells which axis of x is time and which "
                                 "the batch (rnntui runs sequences through a recurrent module or a conv1d, or images "
                                 "through a conv2d)")
        self.chain.out_roles = roles
        self.chain.x_roles = self.roles(self.x_val)
        for name, val in self.input_vals.items():
            have = self.roles(val)
            if any(r not in FIXED for r in have):
                raise FromTorchError(f"{type(self.module).__name__}: no module tells which axis of `{name}` is time "
                                     "and which the batch")
            self.chain.inputs.append((name, have, val_array(self.given[name])))
        return self.chain

    def arg(self, a):
        """A node's argument with every node in it replaced by its Val."""
        fx = self.torch.fx
        if isinstance(a, fx.Node):
            return self.vals[a]
        if isinstance(a, (tuple, list)):
            return type(a)(self.arg(b) for b in a)
        if isinstance(a, dict):
            return {k: self.arg(b) for k, b in a.items()}
        if isinstance(a, slice):
            return slice(self.arg(a.start), self.arg(a.stop), self.arg(a.step))
        return a

    def visit(self, node) -> Val:
        if node.op == "placeholder":
            self.placeholders += 1
            name = str(node.target).lstrip("*")
            if (name == self.names["x"]) if self.names else self.placeholders == 1:
                self.x_val = self.input_val(node)
                return self.x_val
            if name in self.given:
                return Val("given", value=self.given[name])
            if not self.names or name == self.names.get("lengths"):
                return Val("lengths")
            return Val("meta")
        if node.op == "get_attr":
            self.refuse(node, "forward reads a parameter or buffer directly; rnntui maps parameters of the "
                        "torch.nn modules it has entries for")
        args = [self.arg(a) for a in node.args]
        kwargs = {k: self.arg(a) for k, a in node.kwargs.items()}
        if node.op == "call_module":
            return self.module_call(node, self.mods[node.target], args, kwargs)
        if node.op == "call_method":
            return self.method(node, node.target, args, kwargs)
        return self.function(node, node.target, args, kwargs)

    def images_words(self) -> str:
        # said of x alone: the model may well reshape it into a sequence itself
        return (f"x of shape {tuple(self.x.shape)}: rnntui reads an x of 4 axes as one image (batch 1, channels, "
                f"height, width), and this one holds a batch of {self.x.shape[0]}; for a CNN pass x[:1], and a "
                "model that reads it as a sequence reshapes it first (x.reshape(-1, rows, columns))")

    def input_val(self, node) -> Val:
        x = self.x
        ids = not x.dtype.is_floating_point  # token ids, or floats passed as integers: the first module tells
        if x.ndim == 2 and ids:
            return Val("data", ("?0", "?1"), ids=True)
        if x.ndim == 3:
            return Val("data", ("?0", "?1", "?2"), ids=ids)
        if x.ndim == 4:
            if x.shape[0] != 1:   # a batch of images: only a reshape into a sequence may read it (see method)
                return Val("images")
            return Val("data", ("B", "C", "H", "W"), ids=ids)
        raise FromTorchError(f"x of shape {tuple(x.shape)}; expected a sequence (batch, time, features) or (time, "
                             "batch, features), token ids (batch, time), or one image (1, channels, height, width)")

    # --- modules --------------------------------------------------------------------------------
    def module_call(self, node, m, args, kwargs) -> Val:
        kind, fn = mapper(m)
        source = f"self.{node.target} (nn.{type(m).__name__})"
        if kind is None:
            self.refuse(node, f"rnntui has no entry for this module; {_CHAIN}")
        # a module called again, or weights tied between modules: `same_as` / `tie` (see share), so that the
        # gradient of a shared parameter is the sum over its uses, as PyTorch's
        if kind == "recurrent":
            return self.recurrent_call(node, m, args, kwargs, source)
        if len(args) != 1 or kwargs:
            self.refuse(node, "called with more than one argument; rnntui's entries read one tensor")
        v = self.take(node, args[0], "the module", ids=kind in ("embedding", "identity"))
        if kind == "identity":
            return v
        if kind == "channel_dropout":
            if self.train:
                self.refuse(node, f"nn.{type(m).__name__} zeroes whole channels in training, and rnntui's dropout "
                            "zeroes single values: a train= replay would train another model (use nn.Dropout, or "
                            "leave out train=: without it the run is eval's, where it does nothing)")
            return v   # eval: the identity
        if kind == "activation":
            name = ACTIVATIONS[type(m).__name__]
            return self.activation(node, v, name, getattr(m, "dim", None), source)
        try:
            entry = fn(m)
        except Refused as exc:
            self.refuse(node, f"{exc}")
        return self.place(node, kind, entry, source, v)

    def place(self, node, kind: str, entry: Entry, source: str, v: Val) -> Val:
        """*entry* (of *kind*, as leaves.mapper names it) on the chain's head *v*, its axes checked."""
        roles = self.roles(v)
        if kind == "embedding":
            if not v.ids:
                self.refuse(node, "nn.Embedding reads token ids; x here is not integer ids")
            if len(roles) != 2:
                self.refuse(node, f"nn.Embedding reads token ids (batch, time) or (time, batch); x has shape "
                            f"{tuple(self.x.shape)}")
            return self.add(node, entry, source, v, roles + ("F",))
        if kind == "linear":
            if any(r in ("C", "H", "W") for r in roles):
                self.refuse(node, f"nn.Linear acts on the last axis; here that is a feature map's width {self.shown(v)}: "
                            "flatten it first (nn.Flatten)")
            roles = self.require(node, v, {-1: "F"}, "nn.Linear reads features on its last axis")
            return self.add(node, entry, source, v, roles)
        if kind in ("conv1d", "pool1d"):
            roles = self.require(node, v, {0: "B", 1: "F", 2: "T"} if len(roles) == 3 else {}, (
                "a 1-d conv or pool reads (batch, channels, time): rnntui runs it over a sequence whose features are "
                "the channels (transpose a (batch, time, features) sequence with x.transpose(1, 2) first, and back "
                "after it)"))
            if len(roles) != 3:
                self.refuse(node, f"a 1-d conv or pool reads (batch, channels, time); here {self.shown(v)}")
            return self.add(node, entry, source, v, roles)
        if kind in ("conv2d", "pool2d"):
            if roles != ("B", "C", "H", "W"):
                self.refuse(node, f"a 2-d conv or pool reads an image (batch, channels, height, width); here "
                            f"{self.shown(v)}")
            return self.add(node, entry, source, v, roles)
        if kind == "batchnorm1d":
            if len(roles) not in (2, 3):
                self.refuse(node, f"nn.BatchNorm1d reads (batch, features) or (batch, channels, time); here "
                            f"{self.shown(v)}")
            roles = self.require(node, v, {0: "B", 1: "F", 2: "T"} if len(roles) == 3 else {0: "B", 1: "F"}, (
                "nn.BatchNorm1d normalises axis 1 of (batch, features) or (batch, channels, time) (transpose a "
                "(batch, time, features) sequence with x.transpose(1, 2) first, and back after it)"))
            return self.add(node, entry, source, v, roles)
        if kind == "batchnorm2d":
            if roles != ("B", "C", "H", "W"):
                self.refuse(node, f"nn.BatchNorm2d reads an image (batch, channels, height, width); here {self.shown(v)}")
            return self.add(node, entry, source, v, roles)
        if kind == "flatten":
            return self.flatten(node, v, source, entry)
        return self.add(node, entry, source, v, roles)  # dropout: elementwise, any axes

    def flatten(self, node, v: Val, source: str, entry: Entry | None = None) -> Val:
        if self.roles(v) != ("B", "C", "H", "W"):
            self.refuse(node, f"rnntui flattens a feature map (batch, channels, height, width) into (batch, features); "
                        f"here {self.shown(v)}")
        return self.add(node, entry or Entry({"type": "flatten"}), source, v, ("B", "F"))

    def activation(self, node, v: Val, name: str, dim, source: str) -> Val:
        roles = self.roles(v)
        if name in ("softmax", "log_softmax"):
            dim = None if dim is None else self.number(node, dim, f"{name}'s dim")
            if dim is None or "F" not in roles or dim % len(roles) != roles.index("F"):
                self.refuse(node, f"{name} over dim={dim}: rnntui's {name} runs over the features, here dim="
                            f"{roles.index('F') if 'F' in roles else '(none: a feature map)'} of {self.shown(v)}")
        last = self.chain.entries[-1] if self.chain.entries else None
        # an activation straight after a dense or conv entry becomes that entry's `activation`, as rnntui writes it
        src = node.args[0] if node.args else None
        alone = isinstance(src, self.torch.fx.Node) and len(src.users) == 1
        # not into a module called again: its `same_as` node would take the activation with its keys
        again = self.calls.get(self.entry_module.get(len(self.chain.entries) - 1), 0) > 1
        if last is not None and last.config.get("type") in ("dense", "conv1d", "conv2d") and "activation" not in \
                last.config and v.at == len(self.chain.entries) and alone and not again:
            last.config["activation"] = name
            self.chain.sources[-1] += f" + {source}"
            return v
        return self.add(node, Entry({"type": "activation", "function": name}), source, v, roles)

    def recurrent_call(self, node, m, args, kwargs, source) -> Val:
        if not args:
            self.refuse(node, "called without an input")
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if len(args) > 2 or set(kwargs) - {"hx"}:
            self.refuse(node, "called with more than (input, hx)")
        initial = None
        if hx is not None:
            initial = self.initial_state(node, m, hx)
        v = args[0]
        if isinstance(v, Val) and v.kind == "packed":
            if v.at != len(self.chain.entries):
                self.refuse(node, f"reads a packed sequence made before the latest module; {_CHAIN}")
            inner = Val("data", v.roles, at=v.at)
            packed = True
        else:
            v = self.take(node, v, "the module")
            if self.pack_state == "padded":
                self.refuse(node, "reads a padded batch that is not packed, after a packed module: rnntui runs every "
                            "recurrent entry of a batch of different lengths packed (pack it again with "
                            "pack_padded_sequence)")
            inner, packed = v, False
        want = {0: "B", 1: "T", 2: "F"} if m.batch_first else {0: "T", 1: "B", 2: "F"}
        if len(self.roles(inner)) != 3:
            self.refuse(node, f"a recurrent module reads a sequence; here it receives {self.shown(inner)} (after "
                        "many-to-one there is one vector per sample)")
        layout = "(batch, time, features) (batch_first=True)" if m.batch_first else \
            "(time, batch, features) (batch_first=False)"
        roles = self.require(node, inner, want, f"it reads {layout}")
        try:
            entry = recurrent(m)
        except Refused as exc:
            self.refuse(node, str(exc))
        if initial:
            entry.config["initial_state"] = initial
        out = self.add(node, entry, source, inner, roles)
        k = len(self.chain.entries) - 1
        self.recurrent[k] = m
        return Val("result", roles, at=out.at, entry=k, packed=packed)

    def initial_state(self, node, m, hx) -> dict:
        """The recurrent module's hx as the scenario's `initial_state:` ({h: (layers x directions, B, H)[, c]}):
        tensors passed to forward (`self.rnn(x, hidden)`, hidden given to from_torch) or torch.zeros."""
        lstm = isinstance(m, self.torch.nn.LSTM)
        names = ("h", "c") if lstm else ("h",)
        if isinstance(hx, Val) and hx.kind == "given" and isinstance(hx.value, (tuple, list)):
            hx = tuple(Val("given", value=v) for v in hx.value)
        parts = hx if isinstance(hx, (tuple, list)) else (hx,)
        if len(parts) != len(names):
            self.refuse(node, f"hx holds {len(parts)} tensor(s); an nn.{type(m).__name__} takes "
                        + ("(h_0, c_0)" if lstm else "h_0"))
        out = {}
        for name, p in zip(names, parts):
            if isinstance(p, Val) and p.kind == "zeros":
                continue
            if not (isinstance(p, Val) and p.kind == "given" and isinstance(p.value, self.torch.Tensor)):
                self.refuse(node, "an initial state computed inside forward: rnntui takes an initial state passed to "
                            "forward (from_torch(model, x, hidden)) or torch.zeros(...)")
            out[name] = p.value.detach().cpu().numpy()
        return out

    # --- functions and methods ------------------------------------------------------------------
    def function(self, node, fn, args, kwargs) -> Val:
        torch, F = self.torch, self.torch.nn.functional
        if fn is operator.getitem:
            return self.getitem(node, args[0], args[1])
        if fn is getattr:
            if isinstance(args[0], Val) and args[1] in ("device", "dtype", "shape", "is_cuda"):
                if args[1] == "shape" and args[0] is self.x_val:
                    return Val("meta", value=tuple(int(n) for n in self.x.shape))
                return Val("meta")
            self.refuse(node, f"reads .{args[1]}")
        if fn is self.originals["zeros"]:
            return Val("zeros")
        if fn is torch.arange and len(args) == 1 and set(kwargs) <= {"device", "dtype"}:
            shape = self.shapes.get(node)   # torch.arange(B): each sample's row (its size checked where it indexes)
            return Val("arange", value=int(shape[0]) if shape else None)
        if any(fn is getattr(F, name) for name in _POOL_ARGS):
            return self.functional_pool(node, fn.__name__ if fn.__name__ in _POOL_ARGS else
                                        next(n for n in _POOL_ARGS if getattr(F, n) is fn), args, kwargs)
        if fn is self.originals["pack_padded_sequence"]:
            return self.pack(node, args, kwargs)
        if fn is self.originals["pad_packed_sequence"]:
            return self.unpack(node, args, kwargs)
        if fn in (torch.cat, torch.concat):
            return self.cat(node, args, kwargs)
        arith = {operator.add: "add", operator.iadd: "add", torch.add: "add", operator.sub: "sub",
                 torch.sub: "sub", operator.mul: "mul", operator.imul: "mul", torch.mul: "mul"}
        if fn in arith and len(args) == 2 and not kwargs:
            return self.arith(node, arith[fn], args[0], args[1])
        name = next((n for n in _ACTIVATION_FUNCTIONS if fn is getattr(torch, n) or fn is getattr(F, n)), None)
        if name is not None:
            v = self.take(node, args[0], "the activation")
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            return self.activation(node, v, name, dim, self.op_name(node))
        if fn is F.dropout:
            training = self.flag(node, kwargs.get("training", args[2] if len(args) > 2 else True), "training")
            if training:
                self.refuse(node, "dropout with training=True: rnntui runs the model as in eval mode (pass "
                            "training=self.training)")
            return self.take(node, args[0], "dropout")
        if fn in (torch.flatten,):
            start = kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
            end = kwargs.get("end_dim", args[2] if len(args) > 2 else -1)
            if start != 1 or end != -1:
                self.refuse(node, "rnntui flattens everything but the batch (start_dim=1, end_dim=-1)")
            return self.flatten(node, self.take(node, args[0], "flatten"), self.op_name(node))
        if fn in (torch.transpose,):
            return self.method(node, "transpose", args, kwargs)
        if fn in (torch.squeeze,):
            return self.method(node, "squeeze", args, kwargs)
        self.refuse(node, f"this operation has no rnntui entry; {_CHAIN}")

    def method(self, node, name, args, kwargs) -> Val:
        v = args[0]
        if name in ("size", "dim") and isinstance(v, Val):
            if v is not self.x_val:
                return Val("meta")
            if name == "dim":
                return Val("meta", value=self.x.ndim)
            axis = kwargs.get("dim", args[1] if len(args) > 1 else None)
            if axis is None:
                return Val("meta", value=tuple(int(n) for n in self.x.shape))
            return Val("meta", value=int(self.x.shape[self.number(node, axis, "the axis")]))
        if name == "new_zeros" and isinstance(v, Val):
            return Val("zeros")
        if name in ("long", "int", "to", "cpu") and isinstance(v, Val) and v.kind in ("arange", "last_steps"):
            return v
        if name in ("to", "cpu", "cuda", "detach", "contiguous", "requires_grad_") and isinstance(v, Val) \
                and v.kind in ("zeros", "lengths", "data", "meta"):
            if v.kind == "data" and name == "requires_grad_":
                self.refuse(node, "changes autograd on a tensor of the chain")
            return v
        if name in _ACTIVATION_FUNCTIONS:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            return self.activation(node, self.take(node, v, "the activation"), name, dim, self.op_name(node))
        if name in ("transpose", "permute", "swapaxes") and isinstance(v, Val) and v.kind == "data":
            v = self.take(node, v, "transpose", ids=True)
            n = len(v.roles)
            if name == "permute":
                order = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
                order = [a % n for a in self.number(node, tuple(order), "the order of the axes")]
                if sorted(order) != list(range(n)):
                    self.refuse(node, f"permute({', '.join(map(str, order))}) on {n} axes")
            else:
                dims = [kwargs.get(k, args[i] if len(args) > i else None) for i, k in ((1, "dim0"), (2, "dim1"))]
                if None in dims:
                    self.refuse(node, "transpose takes two axes, dim0 and dim1")
                a, b = (d % n for d in self.number(node, tuple(dims), "the axis"))
                order = list(range(n))
                order[a], order[b] = order[b], order[a]
            return replace(v, roles=tuple(v.roles[k] for k in order), direct=None)
        if name == "unsqueeze" and isinstance(v, Val) and v.kind == "data" and self.roles(v) == ("B", "F"):
            d = self.number(node, kwargs.get("dim", args[1] if len(args) > 1 else None), "the axis")
            if d % 3 in (0, 1):   # an axis of size 1 where a sequence has its steps: stretched over them by +, -, *
                v = self.take(node, v, "unsqueeze")
                roles = ("S", "B", "F") if d % 3 == 0 else ("B", "S", "F")
                return replace(v, roles=roles, direct=None)
        if name == "squeeze" and isinstance(v, Val) and v.kind == "state":
            return self.squeeze_state(node, v, kwargs.get("dim", args[1] if len(args) > 1 else None))
        if name in ("flatten",) and isinstance(v, Val) and v.kind == "data":
            start = kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
            if start == 1 and kwargs.get("end_dim", args[2] if len(args) > 2 else -1) == -1:
                return self.flatten(node, self.take(node, v, "flatten"), self.op_name(node))
        if name in ("view", "reshape") and isinstance(v, Val) and v.kind == "images":
            shape = self.shapes.get(node)
            if shape is None or len(shape) != 3 or shape[0] != self.x.shape[0]:
                self.refuse(node, self.images_words())
            self.x = self.x.reshape(tuple(shape))   # x read as (batch, rows, columns): a batch of sequences
            self.chain.x_shape = tuple(shape)
            self.x_val = Val("data", ("?0", "?1", "?2"), ids=not self.x.dtype.is_floating_point)
            return self.x_val
        if name in ("view", "reshape") and isinstance(v, Val) and v.kind == "data" and len(self.roles(v)) == 3:
            before, after = self.shapes.get(node.args[0]), self.shapes.get(node)
            roles = self.roles(v)
            if before is not None and after is not None and tuple(after) == (before[0] * before[1], before[2]) \
                    and set(roles[:2]) == {"B", "T"} and roles[2] == "F":
                v = self.take(node, v, name)
                return replace(v, roles=("M", "F"), merged=roles[:2], direct=None)
        if name in ("view", "reshape") and isinstance(v, Val) and v.kind == "data" and len(args) == 3 \
                and isinstance(args[1], Val) and args[1].kind == "meta" and args[2] == -1 and \
                self.roles(v) == ("B", "C", "H", "W"):
            return self.flatten(node, self.take(node, v, "flatten"), self.op_name(node))  # x.view(x.size(0), -1)
        self.refuse(node, f"this operation has no rnntui entry; {_CHAIN}")

    def squeeze_state(self, node, v: Val, dim) -> Val:
        """h_n.squeeze(0) or h_n.squeeze() of a one-layer unidirectional module: its final state (batch,
        hidden), as h_n[-1]. squeeze() drops every axis of size 1, so only where the batch and the hidden
        size are both larger than one is it the same."""
        m = self.recurrent[v.entry]
        if m.num_layers * (2 if m.bidirectional else 1) != 1:
            self.refuse(node, f"h_n holds {m.num_layers * (2 if m.bidirectional else 1)} final states (layers x "
                        "directions); rnntui's many-to-one reads the last layer's: h_n[-1]"
                        + (" (a bidirectional module: torch.cat([h_n[-2], h_n[-1]], dim=1))" if m.bidirectional else ""))
        if dim is None:
            B = int(self.x.shape[self.roles(self.x_val).index("B")])
            if B == 1 or m.hidden_size == 1:
                self.refuse(node, f"h_n.squeeze() with {'a batch of 1' if B == 1 else 'hidden_size=1'} drops that "
                            "axis too, not only the layer axis; use h_n.squeeze(0) or h_n[-1]")
        elif self.number(node, dim, "the axis") not in (0, -3):
            self.refuse(node, f"squeeze({dim}) of h_n (layers, batch, hidden); rnntui's many-to-one is h_n.squeeze(0)")
        return self.reduce(node, v.entry)

    def functional_pool(self, node, name: str, args, kwargs) -> Val:
        """F.max_pool1d/2d, F.avg_pool1d/2d: mapped as the module of the same settings is."""
        names = _POOL_ARGS[name]
        given = dict(zip(names, args)) | kwargs
        if set(given) - set(names) or "kernel_size" not in given:
            self.refuse(node, f"takes ({', '.join(names)})")
        v = self.take(node, given.pop("input"), "the pool")
        numbers = ("kernel_size", "stride", "padding", "dilation", "divisor_override")
        settings = _POOL_DEFAULTS | {k: None if value is None else self.number(node, value, k) if k in numbers
                                     else self.flag(node, value, k) for k, value in given.items()}
        if settings["stride"] in ((), []):
            settings["stride"] = None   # torch's own default for the stride: the kernel size
        try:
            entry = pool(SimpleNamespace(**settings), name[:3], int(name[-2]))
        except Refused as exc:
            self.refuse(node, str(exc))
        return self.place(node, f"pool{name[-2]}d", entry, self.op_name(node), v)

    def getitem(self, node, v, idx) -> Val:
        if not isinstance(v, Val):
            self.refuse(node, "indexes something that is not a tensor of the chain")
        if v.kind == "given":
            if isinstance(v.value, (tuple, list)) and isinstance(idx, int) and -len(v.value) <= idx < len(v.value):
                return Val("given", value=v.value[idx])   # hidden[0] of a given (h0, c0)
            self.refuse(node, "selects part of a tensor passed to forward; rnntui reads a given tensor only as a "
                        "recurrent module's initial state (self.rnn(x, hidden), or hidden[0] of a tuple)")
        if v.kind == "meta":
            if isinstance(v.value, tuple) and isinstance(idx, int) and -len(v.value) <= idx < len(v.value):
                return Val("meta", value=v.value[idx])  # x.shape[1]
            return Val("meta")
        if v.kind == "result":
            if idx == 0:
                if v.packed:
                    return Val("packed", v.roles, at=v.at, entry=v.entry)
                return Val("data", v.roles, at=v.at, direct=v.entry)
            m = self.recurrent[v.entry]
            kind = "state_pair" if isinstance(m, self.torch.nn.LSTM) else "state"
            return Val(kind, v.roles, at=v.at, entry=v.entry)
        if v.kind == "state_pair":
            return Val("state" if idx == 0 else "cell", v.roles, at=v.at, entry=v.entry)
        if v.kind == "padded_pair":
            return replace(v, kind="data") if idx == 0 else Val("meta")
        if v.kind == "state":
            return self.final_state(node, v, idx)
        if v.kind == "data" and isinstance(idx, tuple) and len(idx) == 2 and \
                {getattr(i, "kind", None) for i in idx} == {"arange", "last_steps"}:
            return self.last_real_steps(node, v, idx)
        if v.kind == "data":
            return self.last_step(node, v, idx)
        self.take(node, v, "indexing")

    def last_real_steps(self, node, v: Val, idx) -> Val:
        """out[torch.arange(B), lengths - 1] (batch first; out[lengths - 1, torch.arange(B)] time first): each
        sample's last real step of a packed batch padded back: an `op: last` node (its lengths are the input's)."""
        batch_first = idx[0].kind == "arange"
        roles = self.require(node, v, {0: "B", 1: "T"} if batch_first else {0: "T", 1: "B"},
                             "torch.arange(B) indexes the batch and lengths - 1 the steps")
        if len(roles) != 3:
            self.refuse(node, f"selects each sample's last real step of {self.shown(v)}; rnntui selects it in a "
                        "sequence (batch, time, features) or (time, batch, features)")
        B = int(self.x.shape[self.roles(self.x_val).index("B")]) if "B" in self.roles(self.x_val) else None
        arange = idx[0] if batch_first else idx[1]
        if B is not None and arange.value is not None and arange.value != B:
            self.refuse(node, f"torch.arange({arange.value}) beside a batch of {B}; each sample's last step is "
                        "out[torch.arange(B), lengths - 1]")
        if not self.chain.packed:
            self.refuse(node, "selects each sample's step lengths - 1 of a batch the module does not pack; rnntui "
                        "reads lengths for a packed batch (pack_padded_sequence ... pad_packed_sequence), or every "
                        "sample's last step, out[:, -1]")
        v = self.take(node, v, "indexing")
        self.pending = [self.ref(v)]
        return self.add(node, Entry({"op": "last"}), self.op_name(node), v, tuple(r for r in roles if r != "T"))

    def final_state(self, node, v: Val, idx) -> Val:
        m = self.recurrent[v.entry]
        D = 2 if m.bidirectional else 1
        n = m.num_layers * D
        parts = idx if isinstance(idx, tuple) else (idx,)
        first, rest = parts[0], parts[1:]
        if not isinstance(first, int) or any(p != slice(None) and p is not Ellipsis for p in rest):
            self.refuse(node, "rnntui's many-to-one reads the last layer's final state of every sample: h_n[-1] "
                        "(a bidirectional module: torch.cat([h_n[-2], h_n[-1]], dim=1))")
        i = _norm_index(first, n)
        if D == 1 and i == n - 1 and self.steps_read(node) and not self.chain.packed:
            # the every-step output is read too: h_n[-1] is its last step, an `index` op node beside it
            self.pending = [f"n{v.entry}"]
            return self.add(node, Entry({"op": "index", "dim": 0, "at": -1}), self.op_name(node),
                            Val("data", v.roles, at=v.entry + 1), tuple(r for r in self.roles(Val("data", v.roles))
                                                                         if r != "T"))
        if D == 1 and i == n - 1:
            return self.reduce(node, v.entry)
        if D == 2 and i == n - 1:
            return Val("half", at=v.at, entry=v.entry, half="backward")
        if D == 2 and i == n - 2:
            return Val("half", at=v.at, entry=v.entry, half="forward")
        layer, direction = divmod(i, D)
        self.refuse(node, f"h_n[{first}] is layer {layer}'s {'backward' if direction else 'forward'} final state; "
                    f"rnntui's many-to-one reads the last layer's ({m.num_layers - 1}): h_n[-1]"
                    + (", with both directions: torch.cat([h_n[-2], h_n[-1]], dim=1)" if D == 2 else ""))

    def last_step(self, node, v: Val, idx) -> Val:
        roles = self.roles(v)
        parts = idx if isinstance(idx, tuple) else (idx,)
        ints = [k for k, p in enumerate(parts) if isinstance(p, int)]
        rest_full = all(p == slice(None) or p is Ellipsis for k, p in enumerate(parts) if k not in ints)
        if len(ints) != 1 or not rest_full or len(roles) != 3:
            if v.ids:
                self.refuse(node, "selects part of token ids; rnntui's nn.Embedding reads an input whole: embed it "
                            "first, then select the step (self.emb(x)[:, 0])")
            self.refuse(node, "selects part of a tensor; rnntui selects one step of a sequence (batch, time, "
                        "features) or (time, batch, features): out[:, k] batch first, out[k] time first (its last "
                        "step, out[:, -1], is a many-to-one)")
        k = ints[0]
        roles = self.require(node, v, {k: "T"}, "the index selects a step only on the time axis")
        step = self.number(node, parts[k], "the step")
        m = self.recurrent.get(v.direct) if v.direct is not None else None
        if step == -1 and m is not None and not m.bidirectional and not self.chain.packed and node.args and \
                len(getattr(node.args[0], "users", ())) > 1:
            pass   # the every-step output is read elsewhere too: its last step as an `index` op node, below
        elif step == -1 and m is not None:
            if m.bidirectional:
                self.refuse(node, "on a bidirectional module, the last step is the forward direction's final state "
                            "beside the backward direction's first step (it has read only the last input); rnntui's "
                            "many-to-one reads the backward direction's final state: use "
                            "torch.cat([h_n[-2], h_n[-1]], dim=1) from `_, h_n = self.rnn(x)`")
            if self.chain.packed:
                self.refuse(node, "with packed sequences the last padded step is padding for every shorter sample; "
                            "rnntui's many-to-one reads each sample's own last step: h_n[-1] from `_, h_n = "
                            "self.rnn(x)`")
            return self.reduce(node, v.direct)
        T = self.shapes.get(node.args[0], [None] * len(roles))[k] if node.args else None
        if T is not None and not -T <= step < T:
            self.refuse(node, f"selects step {step} of {T}")
        # any other step, or a step of a value other than a recurrent module's output: an `index` op node
        v = self.take(node, v, "indexing", ids=v.ids)
        self.pending = [self.ref(v)]
        return self.add(node, Entry({"op": "index", "dim": 0, "at": step}), self.op_name(node), v,
                        tuple(r for j, r in enumerate(roles) if j != k), ids=v.ids)

    def steps_read(self, node) -> bool:
        """Whether the every-step output of the recurrent call that h_n (read at *node*) comes from is read too."""
        fx = self.torch.fx
        call = node.args[0] if node.args else None
        while isinstance(call, fx.Node) and call.op != "call_module":
            call = call.args[0] if call.args else None
        if not isinstance(call, fx.Node):
            return False
        return any(u.op == "call_function" and u.target is operator.getitem and u.args[1] == 0 and u.users
                   for u in call.users)

    def cat(self, node, args, kwargs) -> Val:
        tensors = args[0]
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        halves = [t.half if isinstance(t, Val) and t.kind == "half" else None for t in tensors]
        if halves == ["forward", "backward"] and dim in (1, -1) and tensors[0].entry == tensors[1].entry:
            return self.reduce(node, tensors[0].entry)
        if isinstance(tensors, (tuple, list)) and len(tensors) >= 2 and all(isinstance(t, Val) and t.kind == "data"
                                                                             for t in tensors):
            refs = self.operands(node, tensors, "torch.cat")
            roles = {self.roles(t) for t in tensors}
            d = self.number(node, dim, "the axis")
            first = self.roles(tensors[0])
            if len(roles) != 1 or "F" not in first or d % len(first) != first.index("F"):
                self.refuse(node, "joins tensors other than along their features; rnntui's cat joins values laid out "
                            "alike on their feature axis (torch.cat([a, b], dim=-1))")
            self.pending = refs
            return self.add(node, Entry({"op": "cat", "dim": -1}), self.op_name(node), tensors[0], first)
        self.refuse(node, "the only torch.cat rnntui maps is a bidirectional module's final states, "
                    "torch.cat([h_n[-2], h_n[-1]], dim=1) (its many-to-one); joining other tensors makes a branch")

    def arith(self, node, op: str, a, b) -> Val:
        """a + b, a - b, a * b of two tensors of the same axes (a residual connection), or of a tensor and a
        number: an op node reading both."""
        if not isinstance(a, Val) and not isinstance(b, Val):
            return Val("meta")
        if isinstance(a, Val) and a.kind == "lengths" and op == "sub" and b == 1 and not isinstance(b, bool):
            return Val("last_steps")   # lengths - 1: each sample's last real step
        tensors = [v for v in (a, b) if isinstance(v, Val)]
        if len(tensors) == 1:
            number = b if isinstance(a, Val) else a
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                self.refuse(node, f"reads {number!r} beside a tensor; rnntui's {op} takes two tensors or a number")
            if op == "sub" and not isinstance(a, Val):
                self.refuse(node, "a number minus a tensor; rnntui's sub takes the tensor first (x - 0.5)")
            v = self.take(node, tensors[0], op)
            self.pending = [self.ref(v)]
            return self.add(node, Entry({"op": op, "value": float(number)}), self.op_name(node), v, self.roles(v))
        refs = self.operands(node, tensors, op)
        ra, rb = self.roles(a), self.roles(b)
        if ra != rb:
            ra = self.broadcast(node, op, a, b)
        self.pending = refs
        return self.add(node, Entry({"op": op}), self.op_name(node), a, ra)

    def broadcast(self, node, op: str, a: Val, b: Val) -> tuple:
        """The axes of `a op b` where one is a sequence and the other one vector per sample, stretched over the
        steps as torch broadcasts it: (batch, features) beside (time, batch, features), or unsqueezed on the
        time axis beside either layout (`g.unsqueeze(1)` batch first). rnntui's op broadcasts the same way,
        the per-sample value over the steps (its gradient summed over them)."""
        ra, rb = self.roles(a), self.roles(b)
        seq, other = (ra, rb) if "T" in ra else (rb, ra)
        if "T" in seq and "T" not in other and "F" in seq:
            stretched = tuple("S" if r == "T" else r for r in seq)
            if other == stretched or (other == seq[1:] and seq[0] == "T"):
                return seq
            if other == tuple(r for r in seq if r != "T") and seq[0] != "T":
                self.refuse(node, f"{self.shown(a if ra == other else b)} beside {self.shown(a if ra == seq else b)}: "
                            "torch lines up the last axes, so the per-sample value would be stretched over the "
                            "steps by its batch axis (batch against time); rnntui broadcasts a per-sample value over "
                            "the steps: unsqueeze its time axis first (v.unsqueeze(1) batch first)")
        self.refuse(node, f"joins tensors of axes {self.shown(a)} and {self.shown(b)}; rnntui's {op} reads two "
                    "tensors laid out alike, or a sequence and one vector per sample broadcast over its steps "
                    "((time, batch, features) and (batch, features), or v.unsqueeze(1) beside (batch, time, "
                    "features))")

    def reduce(self, node, k: int) -> Val:
        """Many-to-one: the recurrent entry k gives its final states to what follows (a graph's `take: final`;
        one encoder called on two inputs takes it twice)."""
        readers = [j for j in range(k + 1, len(self.chain.entries))
                   if (self.chain.reads[j] is None and j == k + 1) or f"n{k}" in (self.chain.reads[j] or ())]
        if readers:
            self.refuse(node, "reads a recurrent module's final state after another module has read its every-step "
                        "output; rnntui's recurrent node returns one of them")
        if self.reduced and self.chain.packed:
            self.refuse(node, "a second many-to-one over a packed batch; rnntui takes one there")
        if k != len(self.chain.entries) - 1 or self.reduced:
            self.chain.graph = True
        self.reduced = True
        self.chain.mode = "many-to-one"
        self.chain.final_entries.add(k)
        return Val("data", ("B", "F"), at=k + 1)

    def pack(self, node, args, kwargs) -> Val:
        names = ("input", "lengths", "batch_first", "enforce_sorted")
        given = dict(zip(names, args)) | kwargs
        v = self.take(node, given.get("input"), "pack_padded_sequence")
        if not (isinstance(given.get("lengths"), Val) and given["lengths"].kind == "lengths"):
            self.refuse(node, "packs with lengths other than the ones given to from_torch (lengths=...)")
        bf = self.flag(node, given.get("batch_first", False), "batch_first")
        want = {0: "B", 1: "T", 2: "F"} if bf else {0: "T", 1: "B", 2: "F"}
        roles = self.require(node, v, want, f"it packs {'(batch, time, ...)' if bf else '(time, batch, ...)'}")
        self.chain.packed = True
        self.pack_state = "packed"
        return Val("packed", roles, at=v.at)

    def unpack(self, node, args, kwargs) -> Val:
        names = ("sequence", "batch_first", "padding_value", "total_length")
        given = dict(zip(names, args)) | kwargs
        v = given.get("sequence")
        if not (isinstance(v, Val) and v.kind == "packed" and v.entry is not None):
            self.refuse(node, "unpacks something other than a recurrent module's packed output")
        if v.at != len(self.chain.entries):
            self.refuse(node, f"unpacks an output another module has already read; {_CHAIN}")
        if given.get("padding_value", 0.0) != 0:
            self.refuse(node, f"padding_value={given['padding_value']}: rnntui's padded steps hold zeros")
        total = given.get("total_length")
        if total is not None:
            total = self.number(node, total, "total_length")
            if total != self.x_steps():
                self.refuse(node, f"total_length={total} against x's {self.x_steps()} steps; rnntui pads to x's "
                            "steps (total_length=x.size(1) batch first, x.size(0) time first)")
            self.chain.total_length = total
        bf = self.flag(node, given.get("batch_first", False), "batch_first")
        self.pack_state = "padded"
        return Val("padded_pair", ("B", "T", "F") if bf else ("T", "B", "F"), at=v.at, direct=v.entry)
