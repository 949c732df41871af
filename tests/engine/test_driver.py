"""The recurrence driver (engine/families/driver.py): one loop for every family.

- a segment [t0, stop) resumed from the states at its boundary (the entry point checkpointed traces use)
  computes exactly what the whole pass computes there, to the bit, in both directions;
- the graph's cells run their family's step maths (no maths of their own) and stay exact against
  PyTorch's cells;
- importers find a family by its parameter blocks through the families' registry: a family registered
  with a block count of its own is what scaffold picks for a module of that many blocks.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnntui.engine.families import FAMILIES, by_rows, driver, shapes_expected
from rnntui.engine.families.driver import Resume


def params(fam, H, D, rng):
    return {s: rng.normal(0, 0.6, shape) for s, shape in fam.param_shapes(H, D).items()}


ENTRY = SimpleNamespace(nonlinearity="tanh")


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_segment_from_its_boundary_states_is_the_whole_pass_there(name, reverse):
    fam = FAMILIES[name]
    rng = np.random.default_rng(4)
    T, B, D, H = 11, 3, 4, 5
    x, p = rng.normal(size=(T, B, D)), params(fam, H, D, rng)
    state0 = {s: rng.normal(size=(B, H)) for s in fam.states}
    whole = fam.forward(ENTRY, x, p, reverse, state0=state0)
    a, b = 3, 8                     # the segment's steps, a..b-1
    if reverse:                     # a reverse loop meets b-1 first and reads the state step b made
        t0, stop, boundary = b - 1, a - 1, b
    else:
        t0, stop, boundary = a, b, a - 1
    states = {s: whole.record[s][boundary].copy() for s in fam.states}
    seg = fam.forward(ENTRY, x, p, reverse, resume=Resume(t0, states=states, stop=stop))
    for key, v in whole.record.items():
        assert seg.record[key][a:b].tobytes() == v[a:b].tobytes(), key
        held = [boundary] if key in fam.states else []   # the state at the boundary is the one given
        assert all(seg.record[key][t].tobytes() == v[t].tobytes() for t in held), key
        outside = [t for t in range(T) if not a <= t < b and t not in held]
        assert not seg.record[key][outside].any(), f"{key}: the steps the segment did not compute are zero"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_resume_copies_the_record_before_t0_and_equals_the_whole_pass(name):
    fam = FAMILIES[name]
    rng = np.random.default_rng(5)
    T, B, D, H = 9, 2, 3, 4
    x, p = rng.normal(size=(T, B, D)), params(fam, H, D, rng)
    whole = fam.forward(ENTRY, x, p, False)
    again = fam.forward(ENTRY, x, p, False, resume=(4, whole.record))
    g = rng.normal(size=(T, B, H))
    a, b = fam.backward(ENTRY, x, p, whole, g, False), fam.backward(ENTRY, x, p, again, g, False)
    for key, v in whole.record.items():
        assert again.record[key].tobytes() == v.tobytes(), key
    for stem, v in a.params.items():
        assert b.params[stem].tobytes() == v.tobytes(), stem


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_cell_runs_its_familys_step_maths(monkeypatch, name):
    """The cell op has no maths of its own: it steps through the family's forward_steps and backward_steps,
    and matches PyTorch's cell (value, every input's and parameter's gradient) in float64."""
    from rnntui.engine.ops.cells import CELLS

    fam = FAMILIES[name]
    cell = next(c for c in CELLS if c.family is fam)
    calls = []
    for method in ("forward_steps", "backward_steps"):
        original = getattr(type(fam), method)

        def spy(self, *a, _original=original, _method=method, **k):
            calls.append(_method)
            return _original(self, *a, **k)

        monkeypatch.setattr(type(fam), method, spy)
    rng = np.random.default_rng(6)
    B, D, H = 3, 4, 5
    info = SimpleNamespace(index="0.cell", config={"hidden_size": H, "input_size": D, "nonlinearity": "tanh"})
    p = params(fam, H, D, rng)
    ctx = SimpleNamespace(params={f"0.cell.{s}": v for s, v in p.items()}, rec={}, grads={}, puts={})
    x, states = rng.normal(size=(B, D)), [rng.normal(size=(B, H)) for _ in fam.states]
    out, cache = cell.run(info, [x, *states], ctx)
    g = rng.normal(size=(B, H))
    g_extra = {s: rng.normal(size=(B, H)) for s in cell.extras}
    gins = cell.grads(info, [x, *states], out, cache, g, ctx, g_extra=g_extra)
    assert calls == ["forward_steps", "backward_steps"]

    tcell = getattr(torch.nn, cell.title)(D, H).double()
    with torch.no_grad():
        for s, v in p.items():
            getattr(tcell, s).copy_(torch.from_numpy(v))
    tx = torch.from_numpy(x).requires_grad_()
    ts = [torch.from_numpy(v).requires_grad_() for v in states]
    res = tcell(tx, tuple(ts) if len(ts) > 1 else ts[0])
    res = res if isinstance(res, tuple) else (res,)
    loss = (res[0] * torch.from_numpy(g)).sum() + sum((r * torch.from_numpy(g_extra[s])).sum()
                                                     for s, r in zip(cell.extras, res[1:]))
    loss.backward()
    np.testing.assert_allclose(out, res[0].detach().numpy(), rtol=0, atol=1e-14)
    for s, r in zip(cell.extras, res[1:]):
        np.testing.assert_allclose(cache[s], r.detach().numpy(), rtol=0, atol=1e-14)
    for mine, t in zip(gins, [tx, *ts]):
        np.testing.assert_allclose(mine, t.grad.numpy(), rtol=0, atol=1e-13)
    for s in p:
        np.testing.assert_allclose(ctx.grads[f"0.cell.{s}"], getattr(tcell, s).grad.numpy(), rtol=0, atol=1e-13)


def test_importers_ask_the_families_for_the_blocks(monkeypatch, tmp_path):
    """A family with two blocks of rows, registered, is what scaffold finds for such a module's weights; the
    message for shapes no family has lists the families registered (none is spelled by the importer)."""
    from rnntui.scenario import scaffold

    base = FAMILIES["gru"]
    two = type("Two", (type(base),), {"name": "two", "title": "Two", "n_blocks": 2})()
    assert by_rows(2 * 6, 6) is None
    monkeypatch.setitem(FAMILIES, "two", two)
    assert by_rows(2 * 6, 6) is two and by_rows(3 * 6, 6) is base
    assert shapes_expected(6) == "1, 2, 3 or 4 blocks of 6 rows (RNN, Two, GRU, LSTM)"
    mod = scaffold.Module("rnn.", {"weight_ih_l0": (12, 3), "weight_hh_l0": (12, 6), "bias_ih_l0": (12,),
                                  "bias_hh_l0": (12,)})
    scaffold._recurrent(mod)
    assert mod.entry == {"type": "two", "hidden_size": 6}
    monkeypatch.delitem(FAMILIES, "two")
    with pytest.raises(scaffold.ScaffoldError, match=r"expected 1, 3 or 4 blocks of 6 rows \(RNN, GRU, LSTM\)"):
        scaffold._recurrent(scaffold.Module("rnn.", dict(mod.params)))


def test_the_driver_is_what_the_families_run_in():
    """Every family's forward and backward are the driver's (a family implements the step maths only)."""
    from rnntui.engine.families.base import Family

    for fam in FAMILIES.values():
        assert type(fam).forward is Family.forward and type(fam).backward is Family.backward
        assert "forward_steps" in type(fam).__dict__ and "backward_steps" in type(fam).__dict__
    assert Family.forward.__code__.co_names[-1] == "forward" and driver.forward.__module__ == driver.__name__


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_fused_loop_stands_for_the_steps_only_where_no_hook_is_needed(monkeypatch, name):
    """`ForwardSteps.fused` (the seam a compiled kernel plugs into) runs the whole loop of a plain pass; a pass
    with padding or interventions steps through the family's step with the hooks instead."""
    from rnntui.engine.families.base import padding
    from rnntui.engine.interventions import Intervention, Overrides

    fam = FAMILIES[name]
    original, used = type(fam).forward_steps, []

    def with_fused(self, *a, **k):
        fs = original(self, *a, **k)

        def fused(steps):
            used.append(list(steps))
            for t in steps:
                fs.step(t, None)

        fs.fused = fused
        return fs

    rng = np.random.default_rng(7)
    T, B, D, H = 6, 2, 3, 4
    x, p = rng.normal(size=(T, B, D)), params(fam, H, D, rng)
    plain = fam.forward(ENTRY, x, p, True)
    monkeypatch.setattr(type(fam), "forward_steps", with_fused)
    fused = fam.forward(ENTRY, x, p, True)
    assert used == [list(range(T - 1, -1, -1))]
    for key, v in plain.record.items():
        assert fused.record[key].tobytes() == v.tobytes(), key
    ov = Overrides(T, H)
    ov.add(Intervention("model.0.l0.bwd", "h", 2, 3, 0.5))
    fam.forward(ENTRY, x, p, True, overrides=ov)
    fam.forward(ENTRY, x, p, True, pad=padding(np.array([6, 3]), T))
    assert len(used) == 1
