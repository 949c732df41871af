"""Why a training run went wrong, read from its own numbers: each parameter's update relative to its size
(`train.update_ratio.*`), loss rises, and where the values stop being finite.

The update/parameter ratio is the number that decides whether a learning rate is too large: a step that
moves a weight matrix by a large share of its own size (0.89 of `weight_ih` at iteration 0) throws away
what the parameter held, whatever the gradients do. Steady training usually keeps it near 1e-3; the
event threshold (`events: {update_ratio: 1e-2}`) is ten times that. Words are said only where the run's
numbers support them (tests/render/test_training_cause.py checks each against the trace).
"""
from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt

DIM = Style(dim=True)
WARN = Style(color="red", bold=True)
BIG_UPDATE = 0.1      # a ratio this large before a run diverges is named as its likely cause


def parameter_names(trace) -> list[str]:
    return [k[len(keys.TRAIN_UPDATE_RATIO_PREFIX):] for k in trace if k.startswith(keys.TRAIN_UPDATE_RATIO_PREFIX)]


def ratios(trace) -> tuple[list[str], np.ndarray]:
    """(parameter names, their update/parameter ratios: (parameters, iterations)); nan where unknown."""
    names = parameter_names(trace)
    if not names:
        return [], np.zeros((0, 0))
    return names, np.array([np.asarray(trace[keys.train_update_ratio(n)], dtype=float) for n in names])


def _from_zero(trace, name: str, k: int) -> bool:
    """Whether parameter *name* was all zeros before iteration k (its ratio is inf: "moved from 0")."""
    size = trace.get(keys.train_param_norm(name))
    return size is not None and float(np.asarray(size)[k]) == 0.0


def worst_first(trace, k: int) -> list[tuple[str, float, float]]:
    """(name, update/parameter ratio, gradient norm) of every parameter at iteration k: the largest finite
    ratio first, then parameters that moved from 0 (no size to compare with), then ratios not known."""
    names, r = ratios(trace)
    rows = []
    for i, n in enumerate(names):
        g = trace.get(keys.train_gradnorm_param(n))
        gk = float(np.asarray(g)[k]) if g is not None else float("nan")
        rows.append((n, float(r[i, k]), gk))

    def order(row):
        ratio = row[1]
        if np.isnan(ratio):
            return (3, 0.0)
        if np.isinf(ratio) and _from_zero(trace, row[0], k):
            return (1, 0.0)
        return (0, -ratio)

    return sorted(rows, key=order)


def _optimizer_kind(trace) -> str | None:
    cfg = getattr(trace, "train_config", None)
    return None if cfg is None else cfg.optimizer.kind


def _clip_limit(trace) -> float | None:
    cfg = getattr(trace, "train_config", None)
    return None if cfg is None or cfg.clip is None else cfg.clip.limit


def diverges_at(trace) -> int | None:
    """The iteration from which the loss is not finite or above 10x its first value through the last
    iteration; None if the run ends without (a loss that spikes past 10x and comes back has not diverged:
    the loss-rise event tells of the spike)."""
    loss = np.asarray(trace[keys.TRAIN_LOSS], dtype=float)
    if loss.size == 0:
        return None
    bad = ~np.isfinite(loss)
    if np.isfinite(loss[0]) and loss[0] > 0:
        bad |= np.isfinite(loss) & (loss > 10 * loss[0])
    if not bad[-1]:
        return None
    good = np.flatnonzero(~bad)
    return int(good[-1]) + 1 if good.size else 0


def big_update(trace) -> tuple[str, int, float, int] | None:
    """(parameter, iteration, its update/parameter ratio, the iteration where the run diverges) for the
    earliest update of at least BIG_UPDATE of its parameter's size at or before the run diverges; None
    where the run does not diverge or no update was that large."""
    at = diverges_at(trace)
    names, r = ratios(trace)
    if at is None or not names:
        return None
    window = np.where(np.isfinite(r[:, : at + 1]), r[:, : at + 1], -1.0)
    big = np.argwhere(window >= BIG_UPDATE)
    if big.size == 0:
        return None
    k = int(big[:, 1].min())                      # the earliest iteration with a big update
    i = int(np.argmax(window[:, k]))               # its largest
    return names[i], k, float(window[i, k]), at


def _share(ratio: float) -> str:
    return f"{ratio:.0%}" if ratio < 10 else f"{ratio:.3g}x"


def short_cause(trace, width: int) -> str | None:
    """`likely_cause` in one line of at most *width* columns (the training pane's)."""
    found = big_update(trace)
    if found is None:
        return None
    name, k, ratio, at = found
    fix = "lr too large" + ("" if _optimizer_kind(trace) in ("adam", "adamw") or _clip_limit(trace) else " (or clip)")
    for text in (f"likely cause: updates {_share(ratio)} of {name} at iteration {k}, diverging at {at}: {fix}",
                 f"cause: updates {_share(ratio)} of {name} at {k}: {fix}",
                 f"updates {_share(ratio)} of {name} at {k}: lr too large"):
        if len(text) <= width:
            return text
    return None


def likely_cause(trace) -> str | None:
    """One sentence naming the likely cause of a diverging run, or None where the numbers do not support
    one: the run diverges, and at or before that iteration some parameter's update was at least
    BIG_UPDATE of its size. The earliest such update is named."""
    found = big_update(trace)
    if found is None:
        return None
    name, k, ratio, at = found
    loss = np.asarray(trace[keys.TRAIN_LOSS], dtype=float)
    how = ("the loss stops being finite" if not np.isfinite(loss[at]) else
           f"the loss grows to {fmt(float(loss[at]), 0)}, past 10x its {fmt(float(loss[0]), 0)} at iteration 0")
    kind, clip = _optimizer_kind(trace), _clip_limit(trace)
    if kind in ("adam", "adamw"):
        fix = "the learning rate is too large for parameters of this size (Adam's steps are about lr each)"
    elif clip is not None:
        fix = f"the learning rate is too large for this model; clipping at {clip:g} did not keep the updates small"
    else:
        fix = "the learning rate is too large for this model, or clip the gradients"
    return (f"likely cause: updates were {_share(ratio)} of {name} at iteration {k} (update/parameter ratio; steady "
            f"training keeps it near 1e-3), and at iteration {at} {how}: {fix}")


def parameter_line(trace, k: int, width: int) -> Text:
    """One line: the parameters' update/parameter ratios at iteration k, worst first, as many as fit."""
    rows = worst_first(trace, k)
    out = Text(f"update/‖p‖ at {k}: ", DIM)
    if not rows:
        return out.append("no parameters", DIM)
    if all(np.isnan(ratio) for _, ratio, _ in rows) and _updates_unseen(trace):
        # a recorded loop whose optimizer step record() did not see: not a ratio that is NaN
        return out.append("not recorded (record() saw no update: use it as a `with` block, or give optimizer=)", DIM)
    limit = _threshold(trace)
    for j, (name, ratio, _) in enumerate(rows):
        value = ("nan" if np.isnan(ratio) else "from 0" if np.isinf(ratio) and _from_zero(trace, name, k)
                 else fmt(ratio, 0))
        piece = f"{name} {value}"
        sep = " · " if j else ""
        if out.cell_len + len(sep) + len(piece) > width - 2:
            out.append(" …", DIM)
            break
        out.append(sep, DIM)
        out.append(piece, WARN if (not np.isnan(ratio) and ratio > limit) else Style())
    return out


def _updates_unseen(trace) -> bool:
    from rnntui.render.training import event_kinds_known

    return "big updates" in event_kinds_known(trace)[1]


def _threshold(trace) -> float:
    from rnntui.render.analysis import thresholds

    return thresholds(trace.info)["update_ratio"]


__all__ = ["BIG_UPDATE", "big_update", "diverges_at", "likely_cause", "parameter_line", "ratios", "short_cause",
           "worst_first"]
