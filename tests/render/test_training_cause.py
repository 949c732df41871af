"""The cause of a diverging training run on screen, checked against the run's own numbers: each
parameter's update relative to its size (recomputed here from the parameters of consecutive iterations),
the iteration where the run diverges, the events for big updates and loss rises, and the pane's line of
update ratios, worst first."""
from __future__ import annotations

import re

import numpy as np

from rnntui.render.training import iteration_events
from rnntui.render.training_cause import BIG_UPDATE, big_update, likely_cause, parameter_line, short_cause


def _ratio(trace, name: str, k: int) -> float:
    """‖P_{k+1} - P_k‖ / ‖P_k‖ from the parameters the two iterations ran with."""
    a, b = trace.iteration(k)[f"param.{name}"], trace.iteration(k + 1)[f"param.{name}"]
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def test_the_diverging_runs_cause_is_its_earliest_big_update(traces):
    t = traces["training-exploding"]
    name, k, ratio, at = big_update(t)
    loss = t["train.loss"]
    assert loss[at] > 10 * loss[0] and (loss[:at] <= 10 * loss[0]).all()     # where it diverges
    assert abs(_ratio(t, name, k) - ratio) <= 1e-12 * ratio
    assert ratio >= BIG_UPDATE
    # no parameter moved that much at an earlier iteration
    names = [key[len("train.update_ratio."):] for key in t if key.startswith("train.update_ratio.")]
    for n in names:
        for j in range(k):
            r = t[f"train.update_ratio.{n}"][j]
            assert not (np.isfinite(r) and r >= BIG_UPDATE), (n, j)
    words = likely_cause(t)
    assert f"updates were {ratio:.0%} of {name} at iteration {k}" in words
    assert f"at iteration {at} the loss grows to" in words and "or clip the gradients" in words
    assert short_cause(t, 100).startswith(f"likely cause: updates {ratio:.0%} of {name} at iteration {k}")


def test_runs_that_do_not_diverge_name_no_cause(traces):
    for name in ("training-exploding-clipped", "training-lstm-memory", "training-rnn-memory"):
        t = traces[name]
        assert big_update(t) is None and likely_cause(t) is None, name


def test_big_update_and_loss_rise_events_match_the_numbers(traces):
    t = traces["training-exploding"]
    names = [key[len("train.update_ratio."):] for key in t if key.startswith("train.update_ratio.")]
    r = np.array([t[f"train.update_ratio.{n}"] for n in names])
    worst = np.where(np.isfinite(r), r, -1).max(axis=0)
    events = iteration_events(t)
    big = [e for e in events if e.kind == "big update"]
    covered = sorted(k for e in big for k in range(e.iteration, e.end + 1))
    assert covered == np.flatnonzero(worst > 1e-2).tolist()
    first = big[0]
    i = int(np.argmax(np.where(np.isfinite(r[:, first.iteration]), r[:, first.iteration], -1)))
    assert names[i] in first.text and f"at iteration {first.iteration}" in first.text
    loss = t["train.loss"]
    rises = [e for e in events if e.kind == "loss rise"]
    expect = [k for k in range(1, loss.size) if np.isfinite(loss[k - 1]) and np.isfinite(loss[k])
              and loss[k] > 2 * loss[k - 1]]
    assert sorted(k for e in rises for k in range(e.iteration, e.end + 1)) == expect


def test_the_pane_lists_update_ratios_worst_first(traces):
    t = traces["training-exploding"]
    line = parameter_line(t, 1, 200).plain
    shown = re.findall(r"(\d+\.[a-z_0-9]+) ([0-9.e+-]+)", line)
    values = [t[f"train.update_ratio.{n}"][1] for n, _ in shown]
    assert len(shown) == len([k for k in t if k.startswith("train.update_ratio.")])
    assert values == sorted(values, reverse=True)
