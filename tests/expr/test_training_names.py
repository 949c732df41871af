"""`check` over a training run's iterations (train.loss, train.gradnorm, train.lr, train.update_ratio) and
the run's whole `loss`: results against the trace's own arrays, computed here with NumPy."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app


def _only(result):
    (a,) = result.assertions
    (p,) = a.places
    return p


def test_isfinite_loss_fails_where_the_run_stops_being_finite(traces):
    t = traces["training-exploding"]
    bad = np.flatnonzero(~np.isfinite(t["train.loss"]))
    p = _only(rnntui.check(t, "isfinite(train.loss)"))
    assert p.axis == "iteration" and p.first_failing == bad[0] == int(t["train.nonfinite.iteration"])
    assert p.failing == bad.size and p.steps == t["train.loss"].size


def test_gradient_norm_and_update_ratio_over_iterations(traces):
    t = traces["training-exploding-clipped"]
    g = t["train.gradnorm"]
    limit = float(np.median(g))
    p = _only(rnntui.check(t, f"train.gradnorm < {limit!r}"))
    assert p.failing == int((g >= limit).sum()) and p.first_failing == int(np.flatnonzero(g >= limit)[0])
    r = np.stack([t[k] for k in sorted(t) if k.startswith("train.update_ratio.")], axis=1)
    worst = r.max(axis=1)
    cut = float(np.median(worst[np.isfinite(worst)]))
    p = _only(rnntui.check(t, f"max(train.update_ratio) < {cut!r}"))
    assert p.failing == int((~(worst < cut)).sum())
    assert rnntui.check(t, "train.lr == 0.3").ok   # the optimizer's lr, no schedule: every iteration


def test_loss_is_the_checked_iterations_whole_loss(traces):
    t = traces["training-lstm-memory"]
    final = float(t["loss"])
    assert rnntui.check(t, f"loss < {final * 1.01!r}").ok
    assert not rnntui.check(t, f"loss < {final * 0.99!r}").ok
    first = float(t.iteration(0)["loss"])
    assert rnntui.check(t, f"loss > {first * 0.99!r}", iteration=0).ok


def test_training_names_are_refused_where_they_cannot_be_read(traces):
    with pytest.raises(rnntui.ExprError, match="no train: section"):
        rnntui.check(traces["bptt"], "train.loss < 1")
    with pytest.raises(rnntui.ExprError, match="train.loss, train.gradnorm, train.lr, train.update_ratio"):
        rnntui.check(traces["training-exploding"], "train.los < 1")
    with pytest.raises(rnntui.ExprError, match="reads only"):
        rnntui.check(traces["training-exploding"], "train.loss < norm(h)")


def test_the_cli_reports_iterations(traces):
    t = traces["training-exploding"]
    result = CliRunner().invoke(app, ["check", "training-exploding", "--assert", "isfinite(train.loss)", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    place = data["assertions"][0]["places"][0]
    assert place["place"] == "training" and place["first_failing_iteration"] == int(t["train.nonfinite.iteration"])
    assert place["iterations"] == t["train.loss"].size
