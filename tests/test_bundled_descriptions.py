"""Every bundled scenario's description against its own run: what it says of the gradient, the targets and
the views must be what the run's verdicts and data show.

Each file of rnntui/bundled/ is read (new ones join by being there). Every word that makes a claim of the
kinds below (CLAIM_WORDS: the gradient's fate, rates per step, ratios, the target, saturation, what a view
shows) must lie inside the text a registered check (CHECKS) matched, and every check that matches is run
against the trace: a claim no check can verify fails the test until it is reworded or a check is written.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import rnntui
from rnntui.render.analysis import events, verdicts
from rnntui.scenario.yaml_source import load_yaml

BUNDLED = Path(rnntui.__file__).parent / "bundled"
FILES = sorted(BUNDLED.glob("*.yaml"))

CLAIM_WORDS = re.compile(r"vanish|(?<!-)explod|shrink|fade|halves|doubles|x a step|x per step|asks for|asked for|"
                         r"loss on the bit|pixel|saturat|spectral norm|of what it is at|orders of magnitude|"
                         r"of step \d+'s|dL/dh_\d+ is|receive no gradient|enters at|starts at its|stays between", re.I)


class Run:
    """A scenario's trace, the trace of the scenario it opens beside (`compare:`), and their verdicts."""

    def __init__(self, path: Path, traces):
        self.path, self.text = path, path.read_text()
        self.trace = traces[path.stem]
        data, _ = load_yaml(self.text, str(path))
        self.data = data
        partner = data.get("compare")
        self.partner = traces[Path(partner).stem] if partner else None

    def verdicts(self, partner: bool = False):
        """(place label, Verdicts) of every recurrent place, of this run (and its partner's with *partner*)."""
        runs = [self.trace] + ([self.partner] if partner and self.partner is not None else [])
        return [(f"{t.info.name} {p.prefix}", v) for t in runs for p in t.info.places
                if p.recurrent and (v := verdicts(t, p)) is not None]


CHECKS: list[tuple[re.Pattern, object]] = []


def check(pattern: str):
    def register(fn):
        CHECKS.append((re.compile(pattern, re.I), fn))
        return fn
    return register


def digits(s: str) -> float:
    """Half a unit of the claim's last written digit: how close "0.49" means."""
    mantissa = s.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exp = int(s.lower().split("e")[1]) if "e" in s.lower() else 0
    return 0.5 * 10.0 ** (exp - decimals)


@check(r"(?:gradient|dL/dh_t|dL/dc_t)[^.;:]*?(?<!not )\b(vanishes|shrinks|fades|halves)\b")
def _shrinks(run, m):
    word = m.group(1).lower()
    wanted = {"vanishes": lambda v: v.kind == "vanishing"}.get(word, lambda v: v.factor < 1)
    found = [name for name, vs in run.verdicts() if all(wanted(v) for v in vs.samples)]
    assert found, f"says the gradient {word}; no place's verdict says so for every sample"


@check(r"(?:gradient|dL/dh_t)[^.;:]*?\b(explodes|doubles)\b")
def _grows(run, m):
    wanted = (lambda v: v.kind == "exploding") if m.group(1).lower() == "explodes" else (lambda v: v.factor > 1)
    assert any(all(wanted(v) for v in vs.samples) for _, vs in run.verdicts()), m.group(0)


@check(r"which samples explode and which vanish")
def _samples_differ(run, m):
    """A data set's samples: the scan of its first samples finds both verdicts (tests/test_scan.py checks
    each against the kind the sample was made as)."""
    from rnntui.samples import scan

    rows = scan(run.trace.info.file, limit=48).rows
    kinds = {r["verdict"] for r in rows}
    assert {"vanishing", "exploding"} <= kinds, kinds


@check(r"does not vanish|no longer vanishes")
def _does_not_vanish(run, m):
    if m.group(0).lower().startswith("no longer"):
        return   # the variant's own check (_variant) runs it
    assert not any(v.kind == "vanishing" for _, vs in run.verdicts() for v in vs.samples)


@check(r"(?:gradient|dL/dh_t)[^.]*?\bdoubles at every step\b|\bhalves at every step\b")
def _every_step(run, m):
    factor = 2.0 if "doubles" in m.group(0).lower() else 0.5
    assert any(all(abs(v.factor - factor) < 1e-9 for v in vs.samples) for _, vs in run.verdicts()), m.group(0)


@check(r"about (\d+\.\d+)x (?:a|per) step|(\d+\.\d+)x\b")
def _rate(run, m):
    claim = m.group(1) or m.group(2)
    tol = digits(claim)
    hits = [name for name, vs in run.verdicts(partner=True)
            if all(abs(v.factor - float(claim)) <= tol for v in vs.samples)]
    assert hits, f"{claim}x a step: no place's every sample has that rate " + str(
        [(name, [round(v.factor, 4) for v in vs.samples]) for name, vs in run.verdicts(partner=True)])


@check(r"about (1e-?\d+)\b")
def _magnitude(run, m):
    target = math.log10(float(m.group(1)))
    hits = [name for name, vs in run.verdicts(partner=True)
            if all(v.ratio > 0 and abs(math.log10(v.ratio) - target) <= 0.5 for v in vs.samples)]
    assert hits, f"about {m.group(1)}: no place's every sample ends there"


@check(r"between (\S+) and (\S+) of what it is at its last")
def _between(run, m):
    lo, hi = m.group(1), m.group(2)
    hits = [name for name, vs in run.verdicts()
            if f"{min(v.ratio for v in vs.samples):.2g}" == lo and f"{max(v.ratio for v in vs.samples):.2g}" == hi]
    assert hits, (lo, hi, [[round(v.ratio, 3) for v in vs.samples] for _, vs in run.verdicts()])


@check(r"(\w+) stays between (\S+) and (\S+?)\.?$")
def _value_stays_between(run, m):
    """A graph's value (a step node's output, `model.{i}.{id}.out`) lies within the two bounds at every step."""
    name, lo, hi = m.group(1), float(m.group(2)), float(m.group(3))
    found = [k for k in run.trace.keys() if k.startswith("model.") and k.endswith(f".{name}.out")]
    assert found, (name, "no recorded value of that name")
    for k in found:
        v = np.asarray(run.trace[k])
        assert lo <= v.min() and v.max() <= hi, (k, float(v.min()), float(v.max()), lo, hi)


@check(r"at step (\d+) it is [^,]*, about (\S+?)\.?$|about (\S+), at step (\d+)")
def _value_at(run, m):
    t, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    place = next(p for p in run.trace.info.places if p.recurrent)
    norm = float(np.linalg.norm(run.trace[place.grad_key("h")][int(t), 0]))
    assert abs(norm - float(value)) <= digits(value), (norm, value)


@check(r"(?:asks for|asked for|loss on) (?:that|the) bit|the bit asked for")
def _bit_target(run, m):
    t = run.trace
    bits = t["input"][0, :, 0]
    assert set(np.unique(bits)) <= {0.0, 1.0} and not np.abs(t["input"][1:]).any(), "not a bit then silence"
    np.testing.assert_array_equal(np.asarray(t["meta.target"]).reshape(-1), bits.astype(int),
                                  err_msg="the targets are not the samples' bits")


@check(r"pixel")
def _pixels(run, m):
    raise AssertionError("no view of this run shows a gradient per input pixel: reword")


@check(r"beyond ±0\.95 in\s+about (\d+)% of the units")
def _saturated_share(run, m):
    t = run.trace
    shares = [t[p.diag_key("sat.h")].mean() for p in t.info.places if p.recurrent and p.diag_key("sat.h") in t]
    assert any(round(100 * s) == int(m.group(1)) for s in shares), shares


@check(r"the units are saturated|saturation markers")
def _saturation(run, m):
    marks = [e for e in events(run.trace) if e.kind == "saturated"]
    assert len(marks) >= run.trace.info.T // 2, f"{len(marks)} saturation events in {run.trace.info.T} steps"


@check(r"W_hh's spectral norm is (\S+?)\)?$|W_hh's spectral norm is (\S+?)\)")
def _spectral(run, m):
    claim = (m.group(1) or m.group(2)).rstrip(").;,")
    t = run.trace
    norms = [np.linalg.norm(t[k], 2) for k in t if k.startswith("param.") and ".weight_hh" in k]
    assert any(abs(n - float(claim)) <= digits(claim) for n in norms), (claim, norms)


@check(r"Set (\w+) to (\S+) and run it again: with the same weights, fewer units saturate and the gradient no "
       r"longer vanishes")
def _variant(run, m):
    """The same scenario with one key changed: fewer saturated units, and no sample's gradient vanishing."""
    key, value = m.group(1), m.group(2)
    text, n = re.subn(rf"\b{key}: [^,}}\s]+", f"{key}: {value}", run.text)
    assert n == 1, f"{key} is not set once in the scenario"
    tmp = Path(pytest.importorskip("tempfile").mkdtemp()) / run.path.name
    tmp.write_text(text)
    other = rnntui.run(tmp)
    share = [(t[p.diag_key("sat.h")].mean()) for t in (run.trace, other) for p in t.info.places
             if p.recurrent and p.diag_key("sat.h") in t]
    assert share[1] < share[0], share
    kinds = [v.kind for p in other.info.places if p.recurrent for v in verdicts(other, p).samples]
    assert kinds and "vanishing" not in kinds, kinds


@check(r"enters at the last step only")
def _enters_last(run, m):
    t = run.trace
    for p in (p for p in t.info.places if p.recurrent and p.layer == t.info.entries[p.entry].num_layers - 1):
        ext = t[p.grad_key("h.from_output")]
        for b in range(t.info.B):
            last = t.info.length_of(b) - 1
            assert ext[last, b].any() and not np.delete(ext[:, b], last, axis=0).any()


@check(r"starts at its last step")
def _starts_at_own_end(run, m):
    t = run.trace
    for p in (p for p in t.info.places if p.recurrent and p.direction == "fwd"):
        g = t[p.grad_key("h")]
        for b in range(t.info.B):
            n = t.info.length_of(b)
            assert g[n - 1, b].any() and not g[n:, b].any()


@check(r"recurrent weights receive no gradient")
def _no_recurrent_gradient(run, m):
    t = run.trace
    keys = [k for k in t if k.startswith("grad.param.") and ".weight_hh" in k]
    assert keys and not any(t[k].any() for k in keys)
    assert any(t[k].any() for k in t if k.startswith("grad.param.") and ".weight_ih" in k)


@check(r"falls by many orders of magnitude between step (\d+) and step (\d+) at every iteration")
def _falls_every_iteration(run, m):
    t = run.trace
    place = next(p for p in t.info.places if p.recurrent)
    bptt = t[f"train.bptt.{place.prefix}"]
    a, b = int(m.group(1)), int(m.group(2))
    assert (bptt[:, b] / bptt[:, a] < 1e-3).all()


@check(r"is about (\S+) of step (\d+)'s at\s+iteration (\d+)(?: and about a third of it at iteration (\d+))?")
def _reach_at_iteration(run, m):
    t = run.trace
    place = next(p for p in t.info.places if p.recurrent)
    bptt = t[f"train.bptt.{place.prefix}"]
    s, k = int(m.group(2)), int(m.group(3))
    r = bptt[k, 0] / bptt[k, s]
    assert abs(math.log10(r) - math.log10(float(m.group(1)))) <= 0.5, r
    if m.group(4):
        k2 = int(m.group(4))
        assert 0.25 <= bptt[k2, 0] / bptt[k2, s] <= 0.45, bptt[k2, 0] / bptt[k2, s]


@check(r"around\s+iteration (\d+)[^,]*, dL/dh_(\d+) is (\S+) of dL/dh_(\d+)")
def _reach_around(run, m):
    t = run.trace
    place = next(p for p in t.info.places if p.recurrent)
    bptt = t[f"train.bptt.{place.prefix}"]
    k, a, value, b = int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))
    near = bptt[k - 5: k + 6, a] / bptt[k - 5: k + 6, b]   # "around"
    assert (np.abs(near - float(value)) <= digits(value)).any(), near


@check(r"climbs by about (\d+) orders of magnitude every (\d+) iterations")
def _climbs(run, m):
    loss = run.trace["train.loss"]
    n, every = int(m.group(1)), int(m.group(2))
    ok = np.isfinite(loss[every:]) & np.isfinite(loss[:-every])
    per = np.log10(loss[every:][ok] / loss[:-every][ok])
    assert abs(np.median(per) - n) <= 0.5, np.median(per)


def sentences(description: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(`])", " ".join(description.split())) if s]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_claim_of_the_description_holds_on_the_run(path, traces):
    run = Run(path, traces)
    unchecked = []
    for sentence in sentences(run.trace.info.description):
        spans = []
        for pattern, fn in CHECKS:
            for m in pattern.finditer(sentence):
                spans.append(m.span())
                fn(run, m)
        # every claim word lies inside the text of a check that verified it
        for w in CLAIM_WORDS.finditer(sentence):
            if not any(a <= w.start() and w.end() <= b for a, b in spans):
                unchecked.append(f"{w.group(0)!r} in: {sentence}")
    assert not unchecked, f"{path.name}: claims no check verifies (reword, or add a check): {unchecked}"


def test_every_bundled_file_is_covered():
    assert len(FILES) >= 25 and {p.stem for p in FILES} >= {"tanh-saturation", "cnn-digit", "lstm-delayed-recall"}
