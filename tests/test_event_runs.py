"""Runs of consecutive events: where `n` lands, in the order each pass meets them."""
from __future__ import annotations

from rnntui.render.analysis import Event, event_runs


def _ev(place, phase, t, kind="saturated"):
    return Event(phase, place, t, kind, f"{kind} at {t}")


def test_runs_split_at_gaps_and_start_where_the_pass_meets_them(traces):
    info = traces["bilstm-apple"].info
    fwd, rev = [p for p in info.places if p.layer is not None][:2]
    assert (fwd.direction, rev.direction) == ("fwd", "bwd")
    found = [_ev(fwd, "forward", t) for t in (2, 3, 4, 7)]
    found += [_ev(fwd, "backward", t, "vanishing") for t in (1, 2)]
    found += [_ev(rev, "forward", t) for t in (1, 2)]
    found += [_ev(rev, "backward", t, "vanishing") for t in (0, 1, 3)]
    runs = {(r.place.direction, r.phase, r.kind, r.start, r.end, r.steps) for r in event_runs(info, found)}
    assert runs == {
        ("fwd", "forward", "saturated", 2, 4, 3), ("fwd", "forward", "saturated", 7, 7, 1),
        ("fwd", "backward", "vanishing", 2, 1, 2),          # BPTT of a forward direction: high t first
        ("bwd", "forward", "saturated", 2, 1, 2),           # a reverse direction reads T-1 first
        ("bwd", "backward", "vanishing", 0, 1, 2), ("bwd", "backward", "vanishing", 3, 3, 1),
    }


def test_kinds_make_separate_runs_on_the_same_steps(traces):
    info = traces["vanishing-gradient"].info
    p = info.places[0]
    found = [_ev(p, "backward", t, "vanishing") for t in (3, 4)] + [_ev(p, "backward", 4, "non-finite")]
    runs = sorted((r.kind, r.start, r.end, len(r.events)) for r in event_runs(info, found))
    assert runs == [("non-finite", 4, 4, 1), ("vanishing", 4, 3, 2)]
