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
    # the value it grew from is iteration 0's (the rule's), said as such: iteration at - 1's was another
    from rnntui.numfmt import fmt
    assert f"past 10x its {fmt(float(loss[0]), 0)} at iteration 0" in words
    assert loss[at - 1] != loss[0] and "(from " not in words
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


def test_a_loss_that_spikes_and_recovers_names_no_divergence(tmp_path):
    """Adam at lr 3 on a tanh RNN: the loss jumps from 0.266 to 41 at iteration 1 (past 10x), then comes back
    and ends below where it began. The run did not diverge: no 'likely cause' of a divergence, while the
    loss-rise event still tells of the jump."""
    path = tmp_path / "spike.yaml"
    target = [[v] for v in (0.5, 0.2, 0.1, 0.3) * 5]
    path.write_text("version: 1\nseed: 1\ninput: {generate: {kind: sine, length: 20, period: 10}}\n"
                    "model:\n  - {type: rnn, hidden_size: 8}\n  - {type: dense, units: 1}\n"
                    "weights: {init: orthogonal, recurrent_gain: 1.2}\n"
                    f"loss: {{kind: mse, target: {target}}}\n"
                    "train: {iterations: 60, optimizer: {kind: adam, lr: 3.0}}\n")
    import rnntui

    t = rnntui.run(path)
    loss = t["train.loss"]
    assert (loss > 10 * loss[0]).any() and np.isfinite(loss).all() and loss[-1] < loss[0]
    assert big_update(t) is None and likely_cause(t) is None and short_cause(t, 100) is None
    assert any(e.kind == "loss rise" for e in iteration_events(t))
