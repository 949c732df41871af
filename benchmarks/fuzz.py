"""Fuzz campaign: mutations of the bundled scenarios, loaded and run in-process; findings deduplicated.

    .venv/bin/python benchmarks/fuzz.py --cases 100000 --seed 0 --jobs 2 [--out /tmp/fuzz-findings]
    .venv/bin/python benchmarks/fuzz.py --only 123,456 --seed 0      # replay cases (same case -> same YAML)

Each case takes one bundled scenario (rnntui/bundled/*.yaml), mutates it (structurally on the parsed data,
or, for a smaller share, byte by byte on its text) and does what `rnntui validate` and then
`rnntui export --max-memory 64MiB` do: `load_scenario`, `run_scenario`, every recorded and derived
key read (as `Trace.save` does), and for every 20th accepted case the text report rendered.

Outcomes: ran, refused (ScenarioError / RnntuiError), CRASH (any other exception), HANG (over
--timeout seconds), KILLED (MemoryError under the worker's address-space limit, or the worker died),
and invariant findings on what ran or was refused:
  - a refusal's problems are one line each, carry file:line, and hold no control character;
  - a run whose input and parameters are finite has no NaN unless an inf was recorded first, or a
    value beyond 1e150 (overflow on the way: the run is allowed to explode, not to invent NaN);
  - the rendered text report holds no control character but newlines.
Findings are deduplicated by (kind, exception type, innermost frame in rnntui) and each is written,
with one reproducing case number and its mutated YAML, under --out.

Not part of the test suite: it runs for an hour. Results of the last full campaign are in
benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing as mp
import os
import random
import re
import sys
import time
import traceback
from collections import Counter
from multiprocessing.connection import wait
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # two workers on two cores; set before numpy loads

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "rnntui" / "bundled"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
MAX_MEMORY = 64 << 20         # the run's own limit, as --max-memory 64MiB
ADDRESS_LIMIT = 3 << 30       # per worker: a missed memory estimate is a finding, not a swapping machine
REPORT_EVERY = 20
SAVE_EVERY = 10
BYTE_SHARE = 0.2              # share of cases mutated as text rather than as data
GENTLE_SHARE = 0.35           # share of data mutations that keep to plausible values (more cases run)
MAX_BASE_LENGTH = 12          # generated sequences are cut to this before mutating (cases stay fast)

# ---------------------------------------------------------------------------------------------------
# the vocabulary mutations draw from

TOP_KEYS = ["version", "name", "description", "seed", "dtype", "mode", "length", "input", "model", "weights",
            "loss", "class_names", "events"]
INPUT_KEYS = ["values", "batch", "text", "tokenize", "generate", "file", "key", "image"]
GENERATE_KEYS = ["kind", "length", "features", "batch", "period", "amplitude", "phase", "std", "value", "at",
                 "digit", "size"]
ENTRY_KEYS = ["type", "hidden_size", "num_layers", "bidirectional", "merge", "nonlinearity", "units", "activation",
              "function", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"]
WEIGHT_KEYS = ["init", "std", "low", "high", "value", "recurrent_gain", "file", "rename", "set"]
LOSS_KEYS = ["kind", "target"]
EVENT_KEYS = ["saturated", "vanishing", "exploding"]
ALL_KEYS = sorted(set(TOP_KEYS + INPUT_KEYS + GENERATE_KEYS + ENTRY_KEYS + WEIGHT_KEYS + LOSS_KEYS + EVENT_KEYS))

ENTRY_TYPES = ["rnn", "lstm", "gru", "dense", "activation", "flatten", "conv1d", "conv2d", "maxpool1d", "maxpool2d",
               "avgpool1d", "avgpool2d"]
ENUMS = {
    "mode": ["many-to-many", "many-to-one", "one-to-many", "one-to-one", "Many-to-one"],
    "dtype": ["float64", "float32", "float16", "int32"],
    "kind": ["sum", "mse", "cross_entropy", "sine", "noise", "constant", "pulse", "delayed-recall", "digit", "ctc"],
    "type": ENTRY_TYPES + ["transformer", "LSTM", ""],
    "nonlinearity": ["tanh", "relu", "identity", "sigmoid", "gelu"],
    "activation": ["none", "relu", "tanh", "sigmoid", "softmax", "identity"],
    "function": ["none", "relu", "tanh", "sigmoid", "softmax", "elu"],
    "merge": ["concat", "sum", "mean", "mul", "max"],
    "init": ["pytorch", "xavier", "orthogonal", "normal", "uniform", "constant", "none", "kaiming"],
    "tokenize": ["words", "chars", "bytes"],
    "padding": ["same", "valid", 0, 1, 2, [1, 0], [0, 2]],
}
SIZE_KEYS = {"hidden_size", "num_layers", "units", "out_channels", "kernel_size", "stride", "dilation", "groups",
             "length", "features", "batch", "at", "digit", "size", "seed"}
HUGE_NUMBERS = [2**31 - 1, 2**31, 2**63, 2**64, 10**30, 10**99, -(2**63), 1e308, -1e308, 1.7976931348623157e308,
                5e-324, 1e-320, -0.0, float("nan"), float("inf"), float("-inf")]
SMALL_NUMBERS = [0, 1, -1, 2, 3, 4, 5, 7, 9, 16, 0.5, -0.5, 1.5, 2.0, 1e-9, 100, 1000]
STRINGS = ["", " ", "x", "nan", ".nan", "inf", "1", "3.0", "true", "null", "~", "é", "日本語", "🙂🙂",
           "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "a\nb", "tab\there", "\r", "\u2028", "\u202e", "\x00", "\x7f",
           "\x9b", "\ufeff", "x" * 300, "../../etc/passwd", "/dev/zero", "missing.npz", "gru-head.safetensors",
           "bptt.yaml", "%s%n{0}", "[", "{", "*a", "&a", "!!python/object", "- x", "key: value", "#"]


def scalar(rng: random.Random):
    """A value of a random type."""
    r = rng.random()
    if r < 0.12:
        return None
    if r < 0.22:
        return rng.random() < 0.5
    if r < 0.45:
        return rng.choice(SMALL_NUMBERS)
    if r < 0.6:
        return rng.choice(HUGE_NUMBERS)
    if r < 0.68:
        return rng.uniform(-10, 10)
    if r < 0.85:
        return rng.choice(STRINGS)
    if r < 0.92:
        return [scalar(rng) for _ in range(rng.randint(0, 3))]
    return {rng.choice(ALL_KEYS + STRINGS[:12]): scalar(rng) for _ in range(rng.randint(0, 2))}


def number(rng: random.Random):
    r = rng.random()
    if r < 0.7:
        return round(rng.uniform(-3, 3), rng.randint(0, 4))
    if r < 0.85:
        return rng.choice(SMALL_NUMBERS)
    return rng.choice(HUGE_NUMBERS)


def array(rng: random.Random, dims: int):
    """A nested list of numbers of *dims* dimensions, sometimes ragged or holding a stray value."""
    if dims == 0:
        return number(rng) if rng.random() > 0.03 or not rng.wild else scalar(rng)
    n = rng.choice([0, 1, 1, 2, 2, 3, 4, 5, 8]) if rng.random() > 0.02 else rng.randint(30, 200)
    base = [array(rng, dims - 1) for _ in range(1)]
    out = [copy.deepcopy(base[0]) if rng.random() < 0.1 else array(rng, dims - 1) for _ in range(n)]
    if dims > 1 and out and (rng.random() < 0.5 or not rng.wild):  # mostly rectangular
        shape_like = out[0]
        out = [_like(rng, shape_like) for _ in out]
    if out and rng.random() < 0.05 and rng.wild:
        out[rng.randrange(len(out))] = scalar(rng)  # ragged or a stray type
    return out


def _like(rng, template):
    if isinstance(template, list):
        return [_like(rng, t) for t in template]
    return number(rng)


def nested(rng: random.Random, depth: int):
    value = scalar(rng) if rng.random() < 0.5 else 1
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


# ---------------------------------------------------------------------------------------------------
# structural mutations of the parsed scenario

def nodes(data, path=()):
    """Every (path, container) in *data*, containers only."""
    out = [(path, data)]
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, (dict, list)):
                out += nodes(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            if isinstance(v, (dict, list)):
                out += nodes(v, path + (i,))
    return out


def keys_for(path) -> list[str]:
    if not path:
        return TOP_KEYS
    head = path[0]
    if head == "input":
        return GENERATE_KEYS if "generate" in path else INPUT_KEYS
    if head == "model":
        return ENTRY_KEYS
    if head == "weights":
        return WEIGHT_KEYS
    if head == "loss":
        return LOSS_KEYS
    if head == "events":
        return EVENT_KEYS
    return ALL_KEYS


def value_for(rng: random.Random, key, current):
    """A new value for *key*: mostly plausible for that key, sometimes anything."""
    if not rng.wild and key in MAP_KEYS:
        return MAP_KEYS[key](rng)
    r = rng.random() if rng.wild else 0.2 + 0.5 * rng.random()  # a gentle case stays plausible
    if r < 0.2:
        return scalar(rng)
    if key in ENUMS and r < 0.7:
        if not rng.wild:  # the valid choices lead each list
            return rng.choice([c for c in ENUMS[key] if c not in ("one-to-one", "Many-to-one", "float16", "int32",
                                                                  "ctc", "transformer", "LSTM", "", "sigmoid", "gelu",
                                                                  "identity", "elu", "max", "kaiming", "bytes",
                                                                  "valid")] or ENUMS[key])
        return rng.choice(ENUMS[key])
    if key in SIZE_KEYS:
        if r < 0.75:
            return rng.choice([0, 1, 1, 2, 2, 3, 4, 5, 6, 8, 13, 32])
        if r < 0.85:
            return rng.choice([-1, 1000, 10**5, 2**31 - 1, 2**31, 2**64, True, 2.0, "3"])
    if key in ("values", "batch", "image", "target", "set"):
        if key == "set" and isinstance(current, dict) and current:
            return {k: array(rng, rng.randint(0, 2)) if rng.random() < 0.8 else scalar(rng) for k in current}
        return array(rng, rng.randint(0, 4))
    if key == "bidirectional":
        return rng.choice([True, False, "yes", 1, None])
    if key == "text":
        return rng.choice(["I like apple .", "a", "", "x" * 50, "日本語 テキスト", "\x1b[2J wipe", "a\tb\nc"])
    if isinstance(current, bool):
        return not current
    if isinstance(current, (int, float)):
        return rng.choice([number(rng), current * rng.choice([-1, 0, 2, 10, 1e6, 1e300]), current + 1])
    if isinstance(current, str):
        return rng.choice(STRINGS) if rng.random() < 0.6 else current + rng.choice(STRINGS)
    return scalar(rng)


MAP_KEYS = {
    "input": lambda rng: random_input(rng),
    "generate": lambda rng: random_generate(rng),
    "model": lambda rng: [random_entry(rng) for _ in range(rng.randint(1, 3))],
    "weights": lambda rng: {"init": rng.choice(ENUMS["init"][:6])},
    "loss": lambda rng: {"kind": "sum"},
    "events": lambda rng: {rng.choice(EVENT_KEYS): rng.choice([0.5, 1e-3, 1.0, 10.0])},
    "rename": lambda rng: {},
    "set": lambda rng: {},
}
REQUIRED = {"input", "model", "type", "hidden_size", "units", "out_channels", "kernel_size", "function", "kind",
            "generate"}


def change_type(rng: random.Random, value):
    options = [
        None, True, False, str(value)[:40], 3, -2, 2.5, float("nan"), float("inf"), [value], {"x": value}, [], {},
        [value, value],
    ]
    return rng.choice(options)


def random_entry(rng: random.Random) -> dict:
    t = rng.choice(ENTRY_TYPES)
    e: dict = {"type": t}
    if t in ("rnn", "lstm", "gru"):
        e["hidden_size"] = rng.choice([1, 2, 3, 4, 8])
        if rng.random() < 0.3:
            e["num_layers"] = rng.choice([1, 2, 3])
        if rng.random() < 0.3:
            e["bidirectional"] = True
            e["merge"] = rng.choice(ENUMS["merge"][:4])
        if t == "rnn" and rng.random() < 0.4:
            e["nonlinearity"] = rng.choice(ENUMS["nonlinearity"][:3])
    elif t == "dense":
        e["units"] = rng.choice([1, 2, 3, 5])
        if rng.random() < 0.4:
            e["activation"] = rng.choice(ENUMS["activation"][:5])
    elif t == "activation":
        e["function"] = rng.choice(ENUMS["function"][:5])
    elif t.startswith("conv"):
        e["out_channels"] = rng.choice([1, 2, 3, 4])
        e["kernel_size"] = rng.choice([1, 2, 3, [2, 3]] if t == "conv2d" else [1, 2, 3, 5])
        for k, vals in (("stride", [1, 2]), ("padding", ENUMS["padding"]), ("dilation", [1, 2]), ("groups", [1, 2])):
            if rng.random() < 0.25:
                e[k] = rng.choice(vals)
    elif "pool" in t:
        e["kernel_size"] = rng.choice([1, 2, 3])
        if rng.random() < 0.3:
            e["stride"] = rng.choice([1, 2, 3])
    return e


def random_input(rng: random.Random) -> dict:
    form = rng.choice(["values", "batch", "text", "generate", "image", "file"])
    if form == "values":
        return {"values": array(rng, rng.choice([1, 2, 2, 3]))}
    if form == "batch":
        return {"batch": array(rng, rng.choice([2, 3, 3, 4]))}
    if form == "text":
        return {"text": value_for(rng, "text", ""), "tokenize": rng.choice(["words", "chars"])}
    if form == "image":
        return {"image": array(rng, rng.choice([2, 3]))}
    if form == "file":
        return {"file": rng.choice(["gru-head.safetensors", "missing.npy", "/dev/zero", "bptt.yaml", "."])}
    return {"generate": random_generate(rng)}


def random_generate(rng: random.Random) -> dict:
    g = {"kind": rng.choice(ENUMS["kind"][3:9]), "length": rng.choice([1, 2, 5, 9]),
         "features": rng.choice([1, 2, 3])}
    if rng.random() < 0.3:
        g["batch"] = rng.choice([1, 2, 3])
    return g


def mutate_data(rng: random.Random, data) -> list[str]:
    """One structural mutation, in place; returns what it did (for the saved case)."""
    spots = nodes(data)
    path, node = rng.choice(spots)
    if rng.wild:
        op = rng.choice(["drop", "dup", "rename", "swap", "type", "value", "value", "value", "nest", "string",
                         "entry", "entries", "input", "array", "target", "add", "value", "drop"])
    else:
        op = rng.choice(["value", "value", "value", "entry", "entries", "input", "target", "add", "drop"])
        if isinstance(node, list) and op not in ("entry", "entries", "input", "target"):
            op = "entries" if path == ("model",) else "target" if path[:1] == ("loss",) else "input"
    if op == "entry" and isinstance(data.get("model"), list) and data["model"]:
        i = rng.randrange(len(data["model"]))
        e = data["model"][i]
        if isinstance(e, dict) and rng.random() < 0.5 and rng.wild:
            e["type"] = rng.choice(ENUMS["type"])
            return [f"model[{i}].type = {e['type']!r}"]
        data["model"][i] = random_entry(rng)
        return [f"model[{i}] = {data['model'][i]}"]
    if op == "entries" and isinstance(data.get("model"), list):
        m = data["model"]
        how = rng.choice(["shuffle", "dup", "del", "insert", "append"])
        if how == "shuffle":
            rng.shuffle(m)
        elif how == "dup" and m:
            i = rng.randrange(len(m))
            m.insert(i, copy.deepcopy(m[i]))
        elif how == "del" and m:
            del m[rng.randrange(len(m))]
        else:
            m.insert(rng.randrange(len(m) + 1) if how == "insert" else len(m), random_entry(rng))
        return [f"model entries: {how}"]
    if op == "input":
        data["input"] = random_input(rng)
        return [f"input = {str(data['input'])[:80]}"]
    if op == "target":
        loss = data.setdefault("loss", {}) if isinstance(data.get("loss", {}), dict) else {}
        if isinstance(loss, dict):
            loss["kind"] = rng.choice(["sum", "mse", "cross_entropy", loss.get("kind", "sum")])
            loss["target"] = array(rng, rng.randint(0, 3)) if rng.random() < 0.9 else scalar(rng)
            if loss["kind"] == "sum" and rng.random() < 0.7:
                loss.pop("target")
        return ["loss target"]
    if isinstance(node, list):
        if not node:
            node.append(scalar(rng))
            return [f"{path}: append"]
        i = rng.randrange(len(node))
        if op == "drop":
            del node[i]
        elif op == "dup":
            node.insert(i, copy.deepcopy(node[i]))
        elif op == "nest":
            node[i] = nested(rng, rng.choice([2, 5, 5, 20, 50, 98, 99, 101, 150]))
        elif op == "string":
            node[i] = rng.choice(STRINGS)
        elif op == "type":
            node[i] = change_type(rng, node[i])
        else:
            node[i] = number(rng) if rng.random() < 0.7 else scalar(rng)
        return [f"{path}[{i}]: {op}"]
    if not isinstance(node, dict):
        return ["noop"]
    if op == "add" or not node:
        k = rng.choice(keys_for(path)) if rng.random() < 0.8 else rng.choice(STRINGS)
        node[k] = value_for(rng, k, node.get(k))
        return [f"{path}.{k!r} added"]
    k = rng.choice(list(node))
    if op == "drop" and not rng.wild and k in REQUIRED:
        op = "value"
    if op == "drop":
        del node[k]
    elif op == "dup":
        node[rng.choice(keys_for(path))] = copy.deepcopy(node[k])
    elif op == "rename":
        new = rng.choice([rng.choice(keys_for(path)), k + "s", k[:-1], k.upper(), rng.choice(STRINGS)])
        node[new] = node.pop(k)
    elif op == "swap" and len(node) > 1:
        k2 = rng.choice([x for x in node if x != k])
        node[k], node[k2] = node[k2], node[k]
    elif op == "type":
        node[k] = change_type(rng, node[k])
    elif op == "nest":
        node[k] = nested(rng, rng.choice([2, 3, 3, 20, 50, 98, 99, 100, 101, 200]))
    elif op == "string":
        node[k] = rng.choice(STRINGS)
    elif op == "array":
        node[k] = array(rng, rng.randint(0, 4))
    else:
        node[k] = value_for(rng, k, node[k])
    return [f"{path}.{k!r}: {op}"]


# ---------------------------------------------------------------------------------------------------
# YAML out: the top level in block style (so problems have distinct lines), values in flow style

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def ystr(s: str) -> str:
    if _PLAIN.match(s) and s.lower() not in _RESERVED:
        return s
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif o < 0x20 or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029, 0xFEFF):
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def yval(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    if isinstance(v, str):
        return ystr(v)
    if isinstance(v, list):
        return "[" + ", ".join(yval(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{ystr(str(k))}: {yval(x)}" for k, x in v.items()) + "}"
    return ystr(str(v))


def to_yaml(data) -> str:
    if not isinstance(data, dict):
        return yval(data) + "\n"
    lines = []
    for k, v in data.items():
        if k == "model" and isinstance(v, list) and v:
            lines.append("model:")
            lines += [f"  - {yval(e)}" for e in v]
        else:
            lines.append(f"{ystr(str(k))}: {yval(v)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# byte-level mutations of the text

BYTE_SNIPPETS = ["\x00", "\x1b", "\t", "\r", "\n", "\ufeff", "\u2028", ":", "- ", "[", "]", "{", "}", "&a ", "*a",
                 "!!int ", "!x ", "---\n", "...\n", "#", "'", '"', "\\", "<<: ", "? ", "|", ">", "%YAML 1.1\n",
                 "1e999", "0x", "9" * 120, ".nan", "é"]


def mutate_text(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.choice([1, 1, 2, 3, 5])):
        if not chars:
            chars = [" "]
        op = rng.choice(["flip", "insert", "delete", "dupline", "dropline", "swapline", "indent", "snippet"])
        i = rng.randrange(len(chars))
        if op == "flip":
            chars[i] = chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 32), rng.randrange(127, 0x3000)]))
        elif op == "insert":
            chars.insert(i, chr(rng.randrange(32, 127)))
        elif op == "delete":
            del chars[i:i + rng.randint(1, 8)]
        elif op == "snippet":
            chars[i:i] = list(rng.choice(BYTE_SNIPPETS))
        else:
            lines = "".join(chars).split("\n")
            j = rng.randrange(len(lines))
            if op == "dupline":
                lines.insert(j, lines[j])
            elif op == "dropline":
                del lines[j]
            elif op == "swapline" and len(lines) > 1:
                k = rng.randrange(len(lines))
                lines[j], lines[k] = lines[k], lines[j]
            else:
                lines[j] = " " * rng.choice([1, 2, 4]) + lines[j]
            chars = list("\n".join(lines))
    return "".join(chars)


# ---------------------------------------------------------------------------------------------------
# the cases

def shrink(data):
    """Cut generated sequences to MAX_BASE_LENGTH steps so a case takes milliseconds."""
    gen = data.get("input", {}).get("generate") if isinstance(data.get("input"), dict) else None
    if isinstance(gen, dict) and isinstance(gen.get("length"), int) and gen["length"] > MAX_BASE_LENGTH:
        gen["length"] = MAX_BASE_LENGTH
        if isinstance(gen.get("at"), int):
            gen["at"] = min(gen["at"], MAX_BASE_LENGTH - 1)
        target = data.get("loss", {}).get("target")
        if data.get("mode", "many-to-many") == "many-to-many" and isinstance(target, list):
            data["loss"]["target"] = target[:MAX_BASE_LENGTH]
    if isinstance(data.get("length"), int) and data["length"] > MAX_BASE_LENGTH:
        data["length"] = MAX_BASE_LENGTH
    return data


def bases():
    from rnntui.scenario.yaml_source import load_yaml

    out = []
    for p in sorted(SCENARIOS.glob("*.yaml")):
        data, _ = load_yaml(p.read_text(encoding="utf-8"), str(p))
        out.append((p.stem, shrink(data)))
    return out


def make_case(seed: int, n: int, base_list) -> tuple[str, str]:
    """Case *n* of campaign *seed*: (the YAML text, what was done). Same arguments, same text."""
    rng = random.Random(f"{seed}:{n}")
    name, data = base_list[rng.randrange(len(base_list))]
    data = copy.deepcopy(data)
    r = rng.random()
    rng.wild = r >= BYTE_SHARE + GENTLE_SHARE  # a gentle case changes values within what a scenario may say
    if r < BYTE_SHARE:
        return mutate_text(rng, to_yaml(data)), f"{name}: text mutation"
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        done += mutate_data(rng, data)
    return to_yaml(data), f"{name} ({'wild' if rng.wild else 'gentle'}): " + "; ".join(done)


# ---------------------------------------------------------------------------------------------------
# running one case (in a worker)

def innermost(tb) -> str:
    frames = [f for f in traceback.extract_tb(tb) if "/rnntui/" in f.filename and "/benchmarks/" not in f.filename]
    f = frames[-1] if frames else traceback.extract_tb(tb)[-1]
    return f"{Path(f.filename).name}:{f.name}"


def check_refusal(exc) -> str | None:
    """What is wrong with a refusal's message, if anything."""
    problems = getattr(exc, "problems", None)
    lines = [str(p) for p in problems] if problems is not None else [str(exc)]
    if not lines or not any(lines):
        return "empty refusal"
    for line in lines:
        if "\n" in line or CONTROL.search(line):
            return "control character or line break in a problem line"
    for p in problems or ():
        if p.line is None and "would record about" not in p.message:
            return "problem without a line: " + re.sub(r"[0-9]+", "N", p.message)[:50]
    return None


def nonfinite_check(trace) -> str | None:
    """NaN in a run whose inputs and parameters are finite, without an overflow first."""
    import numpy as np

    if not np.all(np.isfinite(trace["input"])):
        return None
    if "meta.target" in trace and not np.all(np.isfinite(trace["meta.target"])):
        return None  # a NaN target makes a NaN loss, legitimately
    params = [k for k in trace if k.startswith("param.")]
    if any(not np.all(np.isfinite(trace[k])) for k in params):
        return None
    nan_keys, overflow = [], False
    for k in trace:
        a = trace[k]
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            continue
        if np.isinf(a).any() or (a.size and np.nanmax(np.abs(a), initial=0) > 1e150):
            overflow = True
        if np.isnan(a).any():
            nan_keys.append(k)
    if nan_keys and not overflow:
        return "NaN without overflow in " + re.sub(r"\d+", "N", nan_keys[0])
    return None


def run_case(text: str, n: int) -> tuple[str, str | None, str]:
    """(outcome, finding key or None, detail)."""
    import io

    import numpy as np
    from rich.console import Console

    from rnntui.engine import load_trace, run_scenario
    from rnntui.errors import RnntuiError
    from rnntui.render.report import ReportOptions, render_to
    from rnntui.scenario import load_scenario

    file = str(SCENARIOS / f"fuzz-{n}.yaml")  # beside the bundled ones: their relative files resolve
    stage = "load"
    try:
        sc = load_scenario(file, text=text, max_memory=MAX_MEMORY)
        if any(ch not in text for ch in CONTROL.findall(sc.name + sc.description)) and "\\" not in text:
            # a control character the file neither holds nor escapes (ruamel's fold marker was one)
            return "refused", "INVARIANT control character in a loaded string", repr(sc.description)[:200]
        stage = "run"
        trace = run_scenario(sc, max_memory=MAX_MEMORY)
        stage = "read"
        for k in list(trace):  # what Trace.save reads, derived diagnostics included
            np.asarray(trace[k])
        bad = nonfinite_check(trace)
        if bad:
            return "ran", f"INVARIANT {bad}", bad
        if n % SAVE_EVERY == 0:  # what `export -o x.npz` writes, `show x.npz` must open
            stage = "save"
            saved = Path(f"/tmp/fuzz-worker-{os.getpid()}.npz")
            trace.save(saved, jacobian="auto")
            stage = "reopen"
            again = load_trace(saved)
            missing = set(trace) - set(again)
            if missing:
                return "ran", "INVARIANT a saved trace lost keys", ", ".join(sorted(missing)[:5])
        if n % REPORT_EVERY == 0:
            stage = "report"
            out = io.StringIO()
            console = Console(file=out, width=100, color_system=None, force_terminal=False)
            render_to(console, trace, ReportOptions())
            m = CONTROL.search(out.getvalue().replace("\n", ""))
            if m:
                return "ran", "INVARIANT control character in the text report", repr(m.group())
        return "ran", None, ""
    except RnntuiError as exc:
        bad = check_refusal(exc)
        if stage in ("report", "save", "reopen"):  # nothing refuses a trace that ran
            return "CRASH", f"CRASH {type(exc).__name__} {innermost(exc.__traceback__)} (report)", traceback.format_exc()
        return "refused", (f"INVARIANT {bad}" if bad else None), str(exc)[:2000]
    except MemoryError:
        return "KILLED", f"KILLED MemoryError at {stage} {innermost(sys.exc_info()[2])}", traceback.format_exc()
    except RecursionError:
        return "CRASH", f"CRASH RecursionError {innermost(sys.exc_info()[2])}", traceback.format_exc()[-4000:]
    except Exception as exc:  # noqa: BLE001 - every other exception is what the campaign looks for
        return "CRASH", f"CRASH {type(exc).__name__} {innermost(exc.__traceback__)} ({stage})", traceback.format_exc()


def worker(conn, seed: int) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))
    base_list = bases()
    while True:
        try:
            n = conn.recv()
        except EOFError:  # the campaign ended or was stopped
            return
        if n is None:
            return
        text, what = make_case(seed, n, base_list)
        conn.send((n,) + run_case(text, n))


# ---------------------------------------------------------------------------------------------------
# the campaign (parent): a pool of workers, each watched for a timeout and for dying

class Slot:
    def __init__(self, ctx, seed):
        self.ctx, self.seed = ctx, seed
        self.start()

    def start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker, args=(child, self.seed), daemon=True)
        self.proc.start()
        child.close()
        self.case, self.since = None, 0.0

    def give(self, n):
        self.case, self.since = n, time.monotonic()
        self.conn.send(n)

    def restart(self):
        self.proc.kill()
        self.proc.join()
        self.conn.close()
        self.start()


def campaign(cases, seed: int, jobs: int, timeout: float, out: Path) -> dict:
    ctx = mp.get_context("fork")
    base_list = bases()
    slots = [Slot(ctx, seed) for _ in range(jobs)]
    todo = list(cases)[::-1]
    counts: Counter = Counter()
    findings: dict[str, dict] = {}
    t0, done, last = time.monotonic(), 0, time.monotonic()

    def record(n, outcome, key, detail):
        nonlocal done
        done += 1
        counts[outcome] += 1
        if key is None:
            return
        f = findings.setdefault(key, {"key": key, "count": 0, "case": n, "cases": [], "detail": detail})
        f["count"] += 1
        if len(f["cases"]) < 50:  # to replay with --only after a fix
            f["cases"].append(n)
        if f["count"] == 1:
            text, what = make_case(seed, n, base_list)
            d = out / f"case-{n}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "scenario.yaml").write_text(text, encoding="utf-8")
            (d / "finding.txt").write_text(f"{key}\ncase {n} (seed {seed}): {what}\n\n{detail}\n", errors="replace")
            print(f"  new finding at case {n}: {key}", flush=True)

    for s in slots:
        if todo:
            s.give(todo.pop())
    while any(s.case is not None for s in slots):
        ready = wait([s.conn for s in slots if s.case is not None] + [s.proc.sentinel for s in slots if s.case is not None],
                     timeout=1.0)
        now = time.monotonic()
        for s in slots:
            if s.case is None:
                continue
            if s.conn in ready or s.conn.poll():
                try:
                    n, outcome, key, detail = s.conn.recv()
                except EOFError:
                    n = None
                if n is not None:
                    record(n, outcome, key, detail)
                    s.case = None
            if s.case is not None and not s.proc.is_alive():
                record(s.case, "KILLED", f"KILLED worker died (exit {s.proc.exitcode})", "")
                s.restart()
            elif s.case is not None and now - s.since > timeout:
                record(s.case, "HANG", "HANG over the timeout", f"over {timeout} s")
                s.restart()
            if s.case is None and todo:
                s.give(todo.pop())
        if now - last > 30:
            last = now
            rate = done / (now - t0)
            print(f"  {done:,} cases, {rate:.0f}/s, {dict(counts)}, {len(findings)} findings", flush=True)
    for s in slots:
        s.conn.send(None)
        s.proc.join(timeout=5)
    took = time.monotonic() - t0
    return {"cases": done, "seconds": round(took, 1), "per_second": round(done / took, 1), "counts": dict(counts),
            "findings": sorted(findings.values(), key=lambda f: -f["count"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--only", help="comma-separated case numbers to replay")
    ap.add_argument("--show", type=int, help="print case N's YAML and exit")
    ap.add_argument("--out", type=Path, default=Path("/tmp/fuzz-findings"))
    args = ap.parse_args()
    if args.show is not None:
        text, what = make_case(args.seed, args.show, bases())
        print(f"# {what}\n{text}")
        return
    cases = [int(c) for c in args.only.split(",")] if args.only else range(args.start, args.start + args.cases)
    args.out.mkdir(parents=True, exist_ok=True)
    result = campaign(cases, args.seed, args.jobs, args.timeout, args.out)
    (args.out / "summary.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"\n{result['cases']:,} cases in {result['seconds']:.0f} s: {result['per_second']} cases/s "
          f"({args.jobs} workers)")
    for outcome, c in sorted(result["counts"].items(), key=lambda kv: -kv[1]):
        print(f"  {outcome:8} {c:8,}")
    print(f"{len(result['findings'])} distinct findings (written under {args.out}):")
    for f in result["findings"]:
        print(f"  {f['count']:6,}x  case {f['case']:>7}  {f['key']}")


if __name__ == "__main__":
    main()
