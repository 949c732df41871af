"""The vanishing/exploding verdict on packed batches, word by word against each sample's own numbers.

Models like the users' (a packed BiLSTM speaker classifier, packed GRU classifiers of one and two layers, a
packed many-to-many tagger): every sample is run alone in torch (its own unpadded steps, the same weights),
its loss term's gradient taken at every step of every sub-layer and direction, and from those numbers the
test recomputes what each sample's verdict must say: the kind (by the rule the screen prints), the rate per
step, the steps it spans (the sample's own, never a padded one), the end-to-end ratio, the median step
Jacobian norm over its real steps; then the batch's summary (how many of each kind, the worst sample).
"""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import torch  # noqa: E402 - the test extra brings it; a missing torch fails the run (conftest)

import rnntui  # noqa: E402
from rnntui.render.analysis import sample_terms, verdicts  # noqa: E402
from rnntui.render.views.recurrent import verdict_lines  # noqa: E402
from tests.torch_ref import _cell_step  # noqa: E402

D, OUT = 5, 3
MODELS = {
    # name: (family, hidden, layers, bidirectional, mode, lengths)
    "bilstm-speaker": ("lstm", 6, 1, True, "many-to-one", [19, 7, 12, 4]),
    "bilstm-speaker-short": ("lstm", 6, 1, True, "many-to-one", [19, 2, 3, 2]),
    "gru-classifier-2-layers": ("gru", 5, 2, False, "many-to-one", [16, 3, 9, 12]),
    "bigru-classifier": ("gru", 4, 1, True, "many-to-one", [11, 2, 6, 8]),
    "lstm-tagger-bi": ("lstm", 4, 1, True, "many-to-many", [9, 4, 6, 1]),
}

SENTENCE = re.compile(r"^(?:sample (\d+): )?(vanishing|exploding|healthy): at step (\d+) the gradient is (\S+) of "
                      r"its size at step (\d+), ([^(]+) \((shrinks|grows) about (\S+)x per step over (\d+) steps"
                      r"(?:; median step Jacobian norm (\S+))?\)$")
ONE_STEP = re.compile(r"^(?:sample (\d+): )?one step: the gradient enters at step (\d+) and there is no earlier "
                      r"step to carry it to(?: \(median step Jacobian norm (\S+)\))?$")
RULE = re.compile(r"vanishing below (\S+) end to end, or below (\S+) at under (\S+)x a step; exploding above "
                  r"(\S+), or above (\S+) at over (\S+)x a step$")   # a batch's report: each sample's line has its numbers


def scenario(tmp_path, name, seed=1):
    fam, H, layers, bi, mode, lengths = MODELS[name]
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(size=(n, D)).round(3).tolist() for n in lengths]
    target = (rng.integers(0, OUT, len(lengths)).tolist() if mode == "many-to-one"
              else [rng.integers(0, OUT, n).tolist() for n in lengths])
    doc = {"version": 1, "seed": seed, "mode": mode, "input": {"batch": seqs},
           "model": [{"type": fam, "hidden_size": H, "num_layers": layers, "bidirectional": bi},
                     {"type": "dense", "units": OUT, "activation": "softmax"}],
           "weights": {"init": "uniform", "low": -0.9, "high": 0.9},
           "loss": {"kind": "cross_entropy", "target": target}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(doc))
    return rnntui.run(path)


def sample_alone(trace, b: int, term: int | None):
    """Sample b run alone in torch; the gradient of its loss (many-to-one) or of its loss term at step *term*
    (many-to-many) w.r.t. every sub-layer's h_t: {(layer, direction): (n,) norms over the units}."""
    info = trace.info
    rec = info.entries[0]
    n = info.length_of(b)
    H, dirs = rec.hidden_size, rec.directions
    P = {k[len("param.0."):]: torch.tensor(trace[k]).requires_grad_(True) for k in trace if k.startswith("param.0.")}
    inp = torch.tensor(trace["input"][:n, b])
    outs, kept = [], {}
    for j in range(rec.num_layers):
        layer = []
        for d in dirs:
            sfx = f"_l{j}" + ("_reverse" if d == "bwd" else "")
            h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
            hs = [None] * n
            for t in (range(n - 1, -1, -1) if d == "bwd" else range(n)):
                h, c2, _ = _cell_step(rec.type, rec.nonlinearity, inp[t], h, c, P, sfx)
                c = c2 if c2 is not None else c
                h.retain_grad()
                hs[t] = h
            kept[(j, d)] = hs
            layer.append(torch.stack(hs))
        inp = torch.cat(layer, -1)
        outs.append(inp)
    top = outs[-1]
    if info.mode == "many-to-one":
        feats = torch.cat([top[-1, :H], top[0, H:]], -1) if len(dirs) == 2 else top[-1]
        tgt = torch.tensor([int(trace["meta.target"][b])])
    else:
        feats = top[term]
        tgt = torch.tensor([int(trace["meta.target"][term, b])])
    W, c = torch.tensor(trace["param.1.weight"]), torch.tensor(trace["param.1.bias"])
    torch.nn.functional.cross_entropy((feats @ W.T + c)[None], tgt).backward()
    return {key: np.array([float(h.grad.norm()) if h.grad is not None else 0.0 for h in hs])
            for key, hs in kept.items()}


def criterion(kind, ratio, factor, rule) -> str:
    """The part of the rule a ratio and rate meet, as the sentence must name it."""
    v_end, v_slow, v_rate, e_end, e_slow, e_rate = rule
    if kind == "vanishing":
        return f"below {v_end:g}" if ratio < v_end else f"below {v_slow:g} at under {v_rate:g}x a step"
    if kind == "exploding":
        return f"above {e_end:g}" if ratio > e_end else f"above {e_slow:g} at over {e_rate:g}x a step"
    if ratio < v_slow:
        return f"not below {v_end:g}, nor below {v_slow:g} at under {v_rate:g}x a step"
    if ratio > e_slow:
        return f"not above {e_end:g}, nor above {e_slow:g} at over {e_rate:g}x a step"
    return f"within {v_slow:g}..{e_slow:g}"


def expected(trace, place, b, rule):
    """What sample b's verdict at *place* must say, from the torch numbers alone: (kind, factor, steps, end,
    ratio, start, median Jacobian norm)."""
    info = trace.info
    n = info.length_of(b)
    fwd = place.direction == "fwd"
    term = (n - 1 if fwd else 0) if info.mode == "many-to-many" else None
    g = sample_alone(trace, b, term)[(place.layer, place.direction)]
    # what the engine recorded for this sample (the one-term pass, or dL/dh_t's own rows) is torch's, up to the
    # loss's mean over the batch (a constant per sample), and zero at every padded step
    mine = sample_terms(trace, place)[0][:, b]
    np.testing.assert_allclose(mine[:n] / mine[:n].max(), g / g.max(), rtol=1e-9, atol=1e-15)
    assert not mine[n:].any()
    order = np.arange(n)[::-1] if fwd else np.arange(n)   # the steps in the order BPTT visits them
    seq = g[order]
    first = int(np.flatnonzero(seq > 0)[0])
    start, end = int(order[first]), int(order[-1])
    jac = float(np.median(trace[place.diag_key("jacnorm")][:n, b]))   # the sample's real steps only
    if start == end:
        return ("one step", None, 0, end, None, start, jac)
    ratio = seq[-1] / seq[first]
    steps = abs(end - start)
    factor = ratio ** (1 / steps)
    v_end, v_slow, v_rate, e_end, e_slow, e_rate = rule
    kind = ("vanishing" if ratio < v_end or (factor < v_rate and ratio < v_slow) else
            "exploding" if ratio > e_end or (factor > e_rate and ratio > e_slow) else "healthy")
    return kind, factor, steps, end, ratio, start, jac


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_samples_verdict_says_its_own_numbers(tmp_path, name):
    trace = scenario(tmp_path, name)
    info = trace.info
    assert info.lengths is not None and max(info.lengths) == info.T
    # the rule as the report prints it, with each sample's numbers (the panel names the part of it met)
    report = [t.plain for p in info.places if p.recurrent for t in verdict_lines(trace, p, None)]
    rules = [RULE.search(line) for line in report if line.startswith("rule: ")]
    assert rules and all(rules)
    thresholds = tuple(float(x) for x in rules[0].groups()[:6])
    for place in (p for p in info.places if p.recurrent):
        kinds, worst = {}, None
        for b in range(info.B):
            lines = [t.plain for t in verdict_lines(trace, place, b)]
            kind, factor, steps, end, ratio, start, jac = expected(trace, place, b, thresholds)
            n = info.length_of(b)
            assert max(start, end) < n   # never a padded step
            if kind == "one step":
                m = ONE_STEP.match(lines[0])
                assert m and int(m.group(1)) == b and int(m.group(2)) == start, lines[0]
                assert m.group(3) == f"{jac:.3g}"
            else:
                m = SENTENCE.match(lines[0])
                assert m, lines[0]
                sb, skind, send, sratio, sstart, crit, verb, sfactor, ssteps, sjac = m.groups()
                assert (int(sb), skind, verb) == (b, kind, "shrinks" if factor < 1 else "grows"), (lines[0], kind)
                assert (sfactor, int(ssteps), int(send), sratio, int(sstart), sjac) == (
                    f"{factor:.3g}", steps, end, f"{ratio:.2g}", start, f"{jac:.3g}"), lines[0]
                assert crit == criterion(kind, ratio, factor, thresholds), (crit, lines[0])
                if kind != "healthy" and (worst is None or abs(math.log10(ratio)) > worst[1]):
                    worst = (b, abs(math.log10(ratio)), factor, steps, end, ratio, start)
            kinds[b] = kind
            basis = lines[-1]
            assert basis.startswith(f"measured on sample {b}'s "), basis
            if info.mode == "many-to-many":
                s = n - 1 if place.direction == "fwd" else 0
                assert f"step {s} loss term alone" in basis and f"‖dL_{s}/dh_t‖" in basis
            else:
                assert "the loss reads one output of each sample" in basis
            assert all(int(t) < n for t in re.findall(r"step (\d+)", lines[0] + " " + basis))
        # the batch, summed up: the counts of each kind and the worst sample's own numbers
        summary = verdict_lines(trace, place, 0)[1].plain
        assert summary.startswith("batch: ")
        words = {"vanishing": "vanish", "exploding": "explode", "healthy": "are healthy", "one step": "have one step"}
        single = {"vanishing": "vanishes", "exploding": "explodes", "healthy": "is healthy", "one step": "has one step"}
        counts = {k: list(kinds.values()).count(k) for k in set(kinds.values())}
        if len(counts) == 1:
            assert summary.startswith(f"batch: all {info.B} samples {words[kind]}"), summary
        if len(counts) > 1:   # in the order the summary names them: the worse kinds first
            named = [k for k in ("non-finite", "exploding", "vanishing", "healthy", "one step") if k in counts]
            said = ", ".join(f"{counts[k]}{f' of {info.B} samples' if i == 0 else ''} "
                             f"{words[k] if counts[k] > 1 else single[k]}" for i, k in enumerate(named))
            assert summary.startswith(f"batch: {said}"), (summary, said)
        if worst is not None:
            b, _, factor, steps, end, ratio, start = worst
            assert (f"the worst, sample {b}: {ratio:.2g} end to end (step {start} to {end}) at {factor:.3g}x a "
                    f"step") in summary, summary
        else:
            assert "worst" not in summary


def test_a_packed_batch_is_not_judged_on_its_mixed_norm(tmp_path):
    """The case users met: the batch-wide ‖dL/dh_t‖ of a packed many-to-one model enters at the longest
    sample's last step and ends where every sample adds its own, so its end-to-end ratio says "grows" while
    the samples' own gradients shrink. No sentence may say the batch's gradient grows then."""
    trace = scenario(tmp_path, "bilstm-speaker-short", seed=4)
    place = trace.info.places[0]
    total = trace[place.diag_key("gradnorm")]
    assert total[0] > 1.5 * total[-1]       # the mixed norm "grows" from step 18 back to step 0
    vs = verdicts(trace, place)
    assert all(v.factor < 1 for v in vs.samples)   # while every sample's own shrinks
    assert "grows" not in vs.summary


def test_a_trace_saved_before_per_sample_verdicts_says_its_verdict_is_the_batchs(tmp_path):
    """An older saved trace holds term_gradnorm (T,) and term_step (): its verdict is the batch's and says so."""
    trace = scenario(tmp_path, "lstm-tagger-bi")
    trace.save(tmp_path / "t.npz")
    arrays = dict(np.load(tmp_path / "t.npz", allow_pickle=False))
    for k in list(arrays):
        if k.endswith(".term_gradnorm"):
            arrays[k] = np.sqrt((arrays[k] ** 2).sum(axis=1))
        elif k.endswith(".term_step"):
            arrays[k] = np.asarray(arrays[k].max())
    np.savez(tmp_path / "old.npz", **arrays)
    old = rnntui.load_trace(tmp_path / "old.npz")
    vs = verdicts(old, old.info.places[0])
    assert len(vs.samples) == 1 and vs.samples[0].sample is None
    assert vs.basis.startswith("measured on the batch's ‖dL_s/dh_t‖, s = 8, as a trace saved before verdicts")
    assert vs.summary == vs.samples[0].sentence and not vs.summary.startswith("sample")
