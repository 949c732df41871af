"""The numbers each snapshot shows, read from the trace where the keys of the case land, and formatted
as the screen formats them (`numfmt.fmt`, the what-if's `+.4g`). A snapshot regenerated over a view
that reads the wrong step, unit, sample or key fails here: the image may change, these numbers may not.

Each case gives (what, text, wide): *text* must appear in the screen's text, the number standing alone
(no digit or point glued to either side); *wide*: only at 100x30, where the right column is shown.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

import rnntui
from rnntui.numfmt import fmt

WIDE, BOTH = True, False


def f(v) -> str:
    return fmt(float(v), 0)


def norm(a) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64)))


def loss(trace) -> tuple:
    return ("the header's loss", f"loss {f(trace['loss'])} ", BOTH)


def gates(trace, prefix: str, t: int, b: int, u: int, names=("i", "f", "g", "o")) -> list:
    return [(f"{prefix} gate {g} at t={t}, sample {b}, unit {u}", f(trace[f"{prefix}.gates.{g}"][t, b, u]), BOTH)
            for g in names]


def states(trace, prefix: str, t: int, b: int, u: int, names=("c", "h")) -> list:
    return [(f"{prefix} {s} at t={t}, sample {b}, unit {u}", f(trace[f"{prefix}.{s}"][t, b, u]), BOTH) for s in names]


def grad_norm_at(trace, prefix: str, t: int, b: int) -> tuple:
    """The gradient plot's ‖dL/dh_t‖ of one sample at the cursor's step."""
    return (f"‖dL/dh_t‖ of sample {b} at t={t}", f"at t={t}: {f(norm(trace[f'grad.{prefix}.h'][t, b]))}", WIDE)


def lstm(trace, other):
    p, t, b, u = "model.0.l0.fwd", 3, 0, 1
    c_prev = trace[f"{p}.c"][t - 1, b, u]
    return [loss(trace), *gates(trace, p, t, b, u), *states(trace, p, t, b, u),
            ("c_prev in the cell update", f"×{f(c_prev)} +", BOTH), grad_norm_at(trace, p, t, b)]


def gru(trace, other):
    p, t, b, u = "model.0.l0.fwd", 2, 0, 0
    return [loss(trace), ("dL/dh_t", f"dL/dh_t = {f(trace[f'grad.{p}.h'][t, b, u])}", BOTH),
            ("the step Jacobian norm", f"‖dh_t/dh_prev‖ = {f(trace[f'diag.{p}.jacnorm'][t, b])}", BOTH),
            grad_norm_at(trace, p, t, b)]


def bilstm_text(trace, other):
    p, t, b, u = "model.0.l0.bwd", 2, 0, 0
    return [loss(trace), *gates(trace, p, t, b, u), *states(trace, p, t, b, u),
            ("‖dL/dh_t‖ at t=2", f"at t={t}:\n {f(norm(trace[f'grad.{p}.h'][t, b]))}", WIDE)]


def cnn(trace, other):
    channel, y, x = 1, 1, 5   # 17 steps right: position 17 of the 12x12 map, row-major
    w, bias = trace["param.0.weight"][channel, 0], float(trace["param.0.bias"][channel])
    patch = np.pad(trace["input"][0, 0], 1)[y:y + 3, x:x + 3]   # padding 1: input rows y-1..y+1
    total = float((w * patch).sum())
    return [loss(trace), ("the feature map at the cursor", f"feature map = {f(trace['model.0.out'][0, channel, y, x])}",
                          BOTH),
            *[(f"kernel weight {i},{j}", f(w[i, j]), BOTH) for i in range(3) for j in range(3)],
            ("Σ w×x", f"Σ {f(total)}", BOTH), ("the pre-activation", f"= {f(bias + total)} → relu", WIDE),
            ("‖grad 0.weight‖", f"‖grad 0.weight‖ = {f(norm(trace['grad.param.0.weight']))}", WIDE)]


def packed_end(trace, other):
    p, t, b, u = "model.1.l0.fwd", 4, 1, 0   # the gradient plot's value is under the notice about padding
    return [loss(trace), *gates(trace, p, t, b, u), *states(trace, p, t, b, u),
            ("c_prev in the cell update", f"×{f(trace[f'{p}.c'][t - 1, b, u])} +", BOTH)]


def packed_bwd(trace, other):
    p, t, b, u = "model.1.l0.bwd", 3, 0, 0
    return [loss(trace), ("dL/dh_t", f"dL/dh_t = {f(trace[f'grad.{p}.h'][t, b, u])}", BOTH),
            ("dL/dc_t", f"= {f(trace[f'grad.{p}.c'][t, b, u])}\n", BOTH), grad_norm_at(trace, p, t, b)]


def _handover(trace, state: str, grad: bool) -> list:
    """Encoder model.1 (2-layer BiLSTM, 3 units a direction, concat) hands its final states to decoder
    model.3 l0: forward's at its last step (t=3), backward's at its first (t=0)."""
    g = "grad." if grad else ""
    fwd, bwd = trace[f"{g}model.1.l0.fwd.{state}"][3, 0], trace[f"{g}model.1.l0.bwd.{state}"][0, 0]
    into = trace[f"{g}model.3.l0.fwd.{state}0"][0]
    name = f"dL/d{state}_0" if grad else f"{state}_0"
    if grad:   # what the decoder's initial-state gradient gives each direction
        return [(f"{name} of the decoder", f"{name} of model.3 l0 ({f(norm(into))})", BOTH),
                (f"{name}, unit 0", f(into[0]), BOTH),
                (f"{name}: the forward direction's share", f"fwd dL/d{state}[3] gets {f(norm(into[:3]))}", BOTH)]
    return [(f"{name} of the decoder", f"{name} of model.3 l0 ({f(norm(into))}) = fwd {state}[3] ({f(norm(fwd))}) "
                                       f"and bwd\n{state}[0] ({f(norm(bwd))})", WIDE),
            (f"{name} unit 0 is the forward direction's", f"= fwd {state}[3][0] = {f(fwd[0])}", BOTH),
            (f"{name} of layer 1, unit 0", f(trace[f"model.1.l1.fwd.{state}"][3, 0, 0]), state == "c")]  # c: 100x30


def handover(trace, other):
    np.testing.assert_array_equal(trace["model.3.l0.fwd.h0"][0], np.concatenate(
        [trace["model.1.l0.fwd.h"][3, 0], trace["model.1.l0.bwd.h"][0, 0]]))   # what the view says it shows
    return [loss(trace), *_handover(trace, "h", False), *_handover(trace, "c", False)]


def handover_bptt(trace, other):
    return [loss(trace), *_handover(trace, "h", True), *_handover(trace, "c", True)]


def _versus(a, b, key: str, t: int, s: int, u: int, label: str, la="A", lb="B") -> list:
    va, vb = a[key][t, s], b[key][t, s]
    return [(f"{label} norms", f"‖{la}‖ {f(norm(va))}  ‖{lb}‖ {f(norm(vb))}  ‖{la}-{lb}‖ {f(norm(va - vb))}", BOTH),
            (f"{label} at unit {u}", f"unit {u}: {la} {f(va[u])} {lb} {f(vb[u])}", BOTH)]


def _sizes(a, b, key: str, t: int, s: int, label: str) -> list:
    """An LSTM's and a GRU's value of the same name: not the same quantity, so their sizes, and no A-B."""
    va, vb = a[key][t, s], b[key][t, s]
    return [(f"{label} sizes", f"{label} ‖A‖ {f(norm(va))}  ‖B‖ {f(norm(vb))}\n", BOTH),
            ("why A-B is not taken", f"their {label} are not the same quantity", BOTH)]


def compare(trace, other):
    p = "model.0.l0.fwd"
    return [loss(trace), ("both losses", f"loss A {f(trace['loss'])}, B {f(other['loss'])})", BOTH),
            *_sizes(trace, other, f"{p}.h", 3, 0, "h"), *gates(trace, p, 3, 0, 0), *states(trace, p, 3, 0, 0)]


def compare_bptt(trace, other):
    p = "model.0.l0.fwd"
    return [loss(trace), *_sizes(trace, other, f"grad.{p}.h", 3, 0, "dL/dh"),
            ("dL/dh_t", f"dL/dh_t = {f(trace[f'grad.{p}.h'][3, 0, 0])}", BOTH),
            ("dL/dc_t", f"= {f(trace[f'grad.{p}.c'][3, 0, 0])}\n", BOTH)]


def training(trace, other):
    k, p = 10, "model.0.l0.fwd"   # iteration 10 ({ to the first, > ten on), in BPTT at its first step t=0
    losses, gradnorms = trace["train.loss"], trace["train.gradnorm"]
    at = trace.iteration(k)
    lowest = int(np.argmin(losses))
    return [("the iteration's loss and gradient norm", f"iteration {k} of 0..{len(losses) - 1}   loss "
             f"{f(losses[k])}   ‖g‖ {f(gradnorms[k])}", BOTH),
            ("the header shows the iteration's loss", f"loss {f(at['loss'])} ", BOTH),
            ("the loss curve's ends", f"0: {f(losses[0])}", BOTH),
            ("the lowest loss", f"min {f(losses[lowest])} at {lowest}", BOTH),
            ("dL/dh_t at iteration 10, t=0", f"{f(at[f'grad.{p}.h'][0, 0, 0])}", BOTH),
            ("dL/dc_t at iteration 10, t=0", f"= {f(at[f'grad.{p}.c'][0, 0, 0])}\n", WIDE),
            ("the largest update/‖p‖ at iteration 10", _largest_update(trace, k), BOTH)]


def _largest_update(trace, k: int) -> str:
    """The training pane's first update/parameter ratio: the largest at iteration *k*."""
    ratios = {key.removeprefix("train.update_ratio."): float(trace[key][k]) for key in trace
              if key.startswith("train.update_ratio.")}
    name = max(ratios, key=ratios.get)
    return f"update/‖p‖ at {k}: {name} {f(ratios[name])}"


def whatif(trace, other):
    p = "model.0.l0.fwd"
    changed = rnntui.what_if(trace, [{"at": p, "t": 3, "set": "c", "units": [2], "value": 0.0}])
    change = float(changed["loss"]) - float(trace["loss"])
    return [("both losses and the change", f"what-if loss {f(changed['loss'])}   original loss {f(trace['loss'])}"
             f"   change {change:+.4g}", BOTH),
            *_versus(changed, trace, f"{p}.h", 3, 0, 2, "h", "what-if", "original"),
            *_versus(changed, trace, f"{p}.c", 3, 0, 2, "c", "what-if", "original"),
            ("the what-if's input gate", f(changed[f"{p}.gates.i"][3, 0, 2]), BOTH)]


def panel_tab(trace, other):
    """Tab three times: the details of h at t=0 in view (and the gradient plot's ‖dL/dh_t‖ at t=0)."""
    p, t, b = "model.0.l0.fwd", 0, 0
    h = trace[f"{p}.h"][t, b]
    return [loss(trace), ("h's statistics at t=0", f"min {f(h.min())}  max {f(h.max())}  mean {f(h.mean())}  "
                                                    f"‖·‖ {f(norm(h))}", BOTH),
            ("unit 0's values", f"unit 0: h={f(h[0])}  c={f(trace[f'{p}.c'][t, b, 0])}  "
                                f"gates.i={f(trace[f'{p}.gates.i'][t, b, 0])}", BOTH),
            ("‖dL/dh_t‖ at t=0", f"at t={t}: {f(norm(trace[f'grad.{p}.h'][t, b]))}", BOTH)]


def watches(trace, other):
    p, t = "model.0.l0.fwd", 5
    dh = np.linalg.norm(trace[f"grad.{p}.h"].reshape(trace.info.T, -1), axis=1)
    holds = int((dh < 1e-7).sum())
    return [loss(trace), ("dL/dh_t", f"dL/dh_t = {f(trace[f'grad.{p}.h'][t, 0, 0])}", BOTH),
            ("the watch's value", f"= {f(norm(trace[f'{p}.h'][t]))} at t={t}", WIDE),
            ("where the breakpoint holds", f"holds at {holds} of {trace.info.T} steps  ← here", WIDE)]


def embedding(trace, other):
    t, token = 3, 7   # "l", id 7
    ids = trace["token_ids"]
    rows = trace["grad.param.0.weight"]
    return [loss(trace), ("dL/dvector at t=3, unit 0", f(trace["grad.model.0.out"][t, 0, 0]), BOTH),
            ("how often id 7 is read", f"the {int((ids == token).sum())} read(s) of id {token}", BOTH),
            ("‖dL/d0.weight[7]‖", f"‖dL/d0.weight[{token}]‖ = {f(norm(rows[token]))}", BOTH),
            ("‖grad 0.weight‖", f"‖grad 0.weight‖ = {f(norm(rows))}", WIDE),
            ("rows with a gradient", f"rows with a gradient: {int((np.abs(rows).sum(axis=1) > 0).sum())} of "
             f"{rows.shape[0]}", WIDE)]


def model_map(trace, other):
    """The map at the second encoder call: the header's loss, the marked node's line with its shape."""
    return [loss(trace), ("the marked node", "▶ model.3   enc_h lstm        emb_h → (B, 6)", BOTH),
            ("cat's shape", "enc_p, enc_h → (B, 12)", BOTH)]


def op_view(trace, other):
    """The add node (model.2) in BPTT at t=3, sample 0, unit 0: its gradient."""
    g = trace["grad.model.2.out"][3, 0]
    return [loss(trace), ("dL/dout at unit 0", f(g[0]), BOTH), ("unit 0 in the details", f"dL/dout={f(g[0])}", WIDE)]


def steps_view(trace, other):
    """The recurrence's step graph in BPTT at t=3, sample 0, unit 0: dL/dh with its split."""
    k = "grad.model.0.h"
    return [loss(trace), ("dL/dh at unit 0", f(trace[k][3, 0, 0]), BOTH),
            ("from the emitted value", f(trace[f"{k}.from_output"][3, 0, 0]), BOTH),
            ("through time", f(trace[f"{k}.through_time"][3, 0, 0]), BOTH)]


def attention(trace, other):
    """The decoder's step graph at t=2, sample 0 ("3 1 4 1 5"): the context at unit 0."""
    return [loss(trace), ("ctx at unit 0", f(trace["model.4.ctx.out"][2, 0, 0]), BOTH)]


def weight_edit(trace, other):
    """vanishing-gradient with W_hh edited from 0.5 to 1.5, in BPTT at t=0: h_t = 1.5^t after the pulse, the
    loss h_29 = 1.5^29 and dL/dh_0 = 1.5^29 (closed forms)."""
    edited = 1.5 ** (trace.info.T - 1)
    return [("both losses and the change", f"what-if loss {f(edited)}   original loss {f(trace['loss'])}   "
             f"change {edited - float(trace['loss']):+.4g}", BOTH),
            ("dL/dh_0 of the edited run", f"dL/dh_t = {f(edited)}", BOTH),
            ("the step Jacobian is the edited W_hh", f"‖dh_t/dh_prev‖ = {f(1.5)}", WIDE)]   # below the fold at 80x24


def seed(trace, other):
    """bilstm-apple in BPTT at t=2 with o logp fruit: the gradient of log p(fruit at t=2), torch's."""
    import torch

    from tests.torch_ref import manual

    def logp(info, out, pre, tr, dtype):
        return torch.log_softmax(pre[2, 0], -1)[1]

    _, grads = manual(trace, loss_fn=logp)
    p = "model.0.l0.fwd"
    return [loss(trace), ("what BPTT traces back", "BPTT of log p(class 1 (fruit)) at t=2 of sample 0", BOTH),
            ("d log p/dh_t at t=2, unit 0", f"dL/dh_t = {f(grads[f'grad.{p}.h'][2, 0, 0])}", BOTH),
            ("d log p/dc_t at t=2, unit 0", f"= {f(grads[f'grad.{p}.c'][2, 0, 0])} (from h_t)", BOTH)]


def _cnn_torch(trace, quantity):
    import torch

    from tests.render.test_cnn_pictures import torch_input_grad

    return torch_input_grad(trace, quantity if quantity is not None else (lambda z: torch.nn.functional.cross_entropy(
        z, torch.tensor([int(np.asarray(trace["meta.target"]).reshape(-1)[0])]))))


def cnn_saliency(trace, other):
    """cnn-digit in its first conv's backward view: dL/dx of every pixel (torch's), its largest and where."""
    g, _ = _cnn_torch(trace, None)
    mag = np.abs(g[0, 0])
    r, c = np.unravel_index(int(np.argmax(mag)), mag.shape)
    return [loss(trace), ("the largest |dL/dx| and where", f"largest |dL/dx| {mag[r, c]:.3g} at row {r}, col {c}", BOTH),
            ("dL/d(feature map) at the cursor", f"dL/d(feature map) = {f(trace['grad.model.0.out'][0, 0, 0, 0])}",
             BOTH)]


def cnn_dense(trace, other):
    """cnn-digit's dense layer at unit 7: its logit, softmax and every class's probability (torch's)."""
    _, z = _cnn_torch(trace, lambda z: z.sum())
    z = z[0]
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    W, b = trace["param.5.weight"], trace["param.5.bias"]
    u = 7
    return [loss(trace), ("z_7 = bias + products", f"+ bias {f(b[u])} = {f(z[u])}", BOTH),
            ("p_7 by softmax", f"/ {f(np.exp(z - z.max()).sum())} = {f(p[u])}   (max z = {f(z.max())}", BOTH),
            *[(f"p of class {k}", f"{p[k]:.1%}", BOTH) for k in range(9)]]   # class 9 is below the fold at 80x24


NUMBERS = {"lstm": lstm, "gru": gru, "bilstm-text": bilstm_text, "cnn": cnn, "packed-end": packed_end,
           "packed-bwd": packed_bwd, "handover": handover, "handover-bptt": handover_bptt, "compare": compare,
           "training": training, "whatif": whatif, "watches": watches, "compare-bptt": compare_bptt,
           "embedding": embedding, "panel-tab": panel_tab, "model-map": model_map, "op-view": op_view,
           "steps-view": steps_view, "attention": attention,
           "weight-edit": weight_edit, "seed": seed, "cnn-saliency": cnn_saliency, "cnn-dense": cnn_dense}


def readings(lines: list[str]) -> list[str]:
    """The screen read whole, and each of its two columns read down on its own (a phrase wrapped in the
    right column continues there, not on the left column's next line)."""
    bars = Counter(i for line in lines for i, ch in enumerate(line) if ch == "│")
    split = bars.most_common(1)[0][0] if bars else None
    out = ["\n".join(lines)]
    if split is not None:
        out += ["\n".join(line[:split] for line in lines), "\n".join(line[split + 1:] for line in lines)]
    return out


def missing(lines: list[str], case: str, trace, other, wide: bool) -> list[str]:
    """What of the case's numbers the screen (its rows of text) does not show; empty: all of them."""
    texts = readings(lines)
    out = []
    for what, text, wide_only in NUMBERS[case](trace, other):
        if wide_only and not wide:
            continue
        pattern = r"\s+".join(re.escape(part) for part in text.split())
        pattern = (r"(?<![\d.])" if text[0] in "-.0123456789" else "") + pattern + r"(?![\d])"   # whole numbers
        if not any(re.search(pattern, screen) for screen in texts):
            out.append(f"{what}: {text!r}")
    return out
