"""`train:` -> the engine's TrainConfig: which optimizer takes which key (torch.optim's signatures)."""
from __future__ import annotations

from rnntui.engine import schedule as sched
from rnntui.engine.optim import KEYS, Clip, Optimizer, TrainConfig
from rnntui.errors import Problem
from rnntui.scenario import schema


def _raw_optimizer(data: dict):
    return data.get("train", {}).get("optimizer", {}) if isinstance(data.get("train"), dict) else {}


def _key_problems(opt: schema.OptimizerSpec, raw, pos) -> list[Problem]:
    """A key the chosen optimizer does not take, named where it is."""
    given = {k: v for k, v in opt.model_dump().items() if v is not None and k != "kind"}
    problems = []
    for key in given:
        if key not in KEYS[opt.kind]:
            where = ("train", "optimizer", key) if isinstance(raw, dict) and key in raw else ("train", "optimizer")
            problems.append(pos.problem(where, f"{opt.kind} takes no {key!r}; expected one of kind, "
                                        f"{', '.join(KEYS[opt.kind])} (torch.optim's keys)"))
    return problems


def optimizer_problems_alone(data: dict, pos) -> list[Problem]:
    """The optimizer's keys checked against its kind when the rest of the scenario does not validate (a
    bad `iterations` beside it): the optimizer's own map is all this check needs. Nothing when that map
    is itself invalid: its problems come from the schema."""
    from pydantic import ValidationError

    raw = _raw_optimizer(data)
    if not isinstance(raw, dict) or not raw:
        return []
    try:
        opt = schema.OptimizerSpec.model_validate(raw)
    except ValidationError:
        return []
    return _key_problems(opt, raw, pos)


def train_config(spec: schema.Train, data: dict, pos) -> tuple[TrainConfig | None, list[Problem]]:
    """The configuration, or the problems: a key the chosen optimizer does not take is named where it is."""
    opt = spec.optimizer
    given = {k: v for k, v in opt.model_dump().items() if v is not None and k != "kind"}
    problems = _key_problems(opt, _raw_optimizer(data), pos)
    if problems:
        return None, problems
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    clip = None
    if spec.clip is not None:
        clip = Clip("norm", spec.clip.norm) if spec.clip.norm is not None else Clip("value", spec.clip.value)
    schedule, problems = _schedule(spec.schedule, data, pos)
    if problems:
        return None, problems
    return TrainConfig(iterations=spec.iterations, optimizer=Optimizer(kind=opt.kind, **given), clip=clip,
                       schedule=schedule, batch_size=spec.batch_size, shuffle=spec.shuffle), []


def _schedule(spec: schema.ScheduleSpec | None, data: dict, pos):
    """The schedule, or the problems: a key its kind does not take, named where it is."""
    if spec is None:
        return None, []
    given = {k: v for k, v in spec.model_dump().items() if v is not None and k != "kind"}
    wrong = [k for k in given if k not in sched.KEYS[spec.kind]]
    if wrong:
        return None, [pos.problem(("train", "schedule", k), f"a {spec.kind} schedule takes no {k!r}; expected one "
                                  f"of kind, {', '.join(sched.KEYS[spec.kind])} (torch.optim.lr_scheduler's keys)")
                      for k in wrong]
    if spec.kind == "step" and "step_size" not in given:
        return None, [pos.problem(("train", "schedule"), "a step schedule needs `step_size` (iterations between "
                                  "two multiplications by gamma), as torch's StepLR does")]
    if spec.kind == "cosine" and "T_max" not in given:
        return None, [pos.problem(("train", "schedule"), "a cosine schedule needs `T_max` (iterations of a half "
                                  "cosine), as torch's CosineAnnealingLR does")]
    if spec.kind == "exponential" and "gamma" not in given:
        return None, [pos.problem(("train", "schedule"), "an exponential schedule needs `gamma` (the factor per "
                                  "iteration), as torch's ExponentialLR does")]
    return sched.Schedule(kind=spec.kind, **given), []
