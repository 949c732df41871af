"""Learning-rate schedules with torch.optim.lr_scheduler's definitions, stepped once per iteration.

PyTorch computes each learning rate from the previous one (the "chainable" `get_lr`), not from a closed
form; the same recursion here gives the same floats. Iteration k trains with `rates[k]`: the rate after
the scheduler's constructor (k = 0) and k calls of `scheduler.step()`, each made after `optimizer.step()`.

    step         (StepLR)            lr_k = lr_{k-1} * gamma   where k % step_size == 0, else lr_{k-1}
    exponential  (ExponentialLR)     lr_k = lr_{k-1} * gamma
    cosine       (CosineAnnealingLR) lr_k = (1 + cos(pi k / T_max)) / (1 + cos(pi (k-1) / T_max))
                                            * (lr_{k-1} - eta_min) + eta_min
                                     (and lr_{k-1} + (lr_0 - eta_min)(1 - cos(pi / T_max)) / 2
                                      where (k - 1 - T_max) % (2 T_max) == 0, as PyTorch restarts it)
    warmup       (LinearLR, end_factor 1)
                                     lr_0 = base * start_factor;
                                     lr_k = lr_{k-1} * (1 + (1 - s) / (n s + (k - 1)(1 - s)))  for k <= n,
                                     then constant (n: warmup_iterations, s: start_factor)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("step", "exponential", "cosine", "warmup")

# the keys each kind takes, in the words of torch.optim.lr_scheduler (warmup: LinearLR's total_iters)
KEYS = {
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("T_max", "eta_min"),
    "warmup": ("warmup_iterations", "start_factor"),
}


@dataclass(frozen=True)
class Schedule:
    """`train.schedule`: the kind and its keys (PyTorch's defaults where it has one)."""

    kind: str
    step_size: int = 1
    gamma: float = 0.1
    T_max: int = 1
    eta_min: float = 0.0
    warmup_iterations: int = 5
    start_factor: float = 1.0 / 3

    def describe(self) -> str:
        """The schedule in a few words, as torch names it."""
        keys = ", ".join(f"{k}={getattr(self, k):g}" for k in KEYS[self.kind])
        torch_name = {"step": "StepLR", "exponential": "ExponentialLR", "cosine": "CosineAnnealingLR",
                      "warmup": "LinearLR"}[self.kind]
        return f"{self.kind} ({torch_name}: {keys})"


def _step(s: Schedule, base: float, lr: float, k: int) -> float:
    return lr * s.gamma if k % s.step_size == 0 else lr


def _exponential(s: Schedule, base: float, lr: float, k: int) -> float:
    return lr * s.gamma


def _cosine(s: Schedule, base: float, lr: float, k: int) -> float:
    if (k - 1 - s.T_max) % (2 * s.T_max) == 0:
        return lr + (base - s.eta_min) * (1 - math.cos(math.pi / s.T_max)) / 2
    return ((1 + math.cos(math.pi * k / s.T_max)) / (1 + math.cos(math.pi * (k - 1) / s.T_max))
            * (lr - s.eta_min) + s.eta_min)


def _warmup(s: Schedule, base: float, lr: float, k: int) -> float:
    if k > s.warmup_iterations:
        return lr
    f, n = s.start_factor, s.warmup_iterations
    return lr * (1.0 + (1.0 - f) / (n * f + (k - 1) * (1.0 - f)))


# kind -> (the first rate from the base, the next rate from the previous one at iteration k)
_RULES = {
    "step": (lambda s, base: base, _step),
    "exponential": (lambda s, base: base, _exponential),
    "cosine": (lambda s, base: base, _cosine),
    "warmup": (lambda s, base: base * s.start_factor, _warmup),
}


def learning_rates(base: float, schedule: Schedule | None, iterations: int) -> list[float]:
    """The learning rate each of *iterations* iterations trains with."""
    if schedule is None:
        return [base] * iterations
    first, after = _RULES[schedule.kind]
    rates = [first(schedule, base)]
    for k in range(1, iterations):
        rates.append(after(schedule, base, rates[-1], k))
    return rates


__all__ = ["KEYS", "KINDS", "Schedule", "learning_rates"]
