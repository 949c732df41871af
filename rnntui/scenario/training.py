"""`train:` -> the engine's TrainConfig: which optimizer takes which key (torch.optim's signatures)."""
from __future__ import annotations

from rnntui.engine.optim import KEYS, Clip, Optimizer, TrainConfig
from rnntui.errors import Problem
from rnntui.scenario import schema


def train_config(spec: schema.Train, data: dict, pos) -> tuple[TrainConfig | None, list[Problem]]:
    """The configuration, or the problems: a key the chosen optimizer does not take is named where it is."""
    opt = spec.optimizer
    given = {k: v for k, v in opt.model_dump().items() if v is not None and k != "kind"}
    raw = data.get("train", {}).get("optimizer", {}) if isinstance(data.get("train"), dict) else {}
    problems = []
    for key in given:
        if key not in KEYS[opt.kind]:
            where = ("train", "optimizer", key) if isinstance(raw, dict) and key in raw else ("train", "optimizer")
            problems.append(pos.problem(where, f"{opt.kind} takes no {key!r}; expected one of kind, "
                                        f"{', '.join(KEYS[opt.kind])} (torch.optim's keys)"))
    if problems:
        return None, problems
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    clip = None
    if spec.clip is not None:
        clip = Clip("norm", spec.clip.norm) if spec.clip.norm is not None else Clip("value", spec.clip.value)
    return TrainConfig(iterations=spec.iterations, optimizer=Optimizer(kind=opt.kind, **given), clip=clip), []
