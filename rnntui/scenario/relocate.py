"""A scenario's file paths rewritten for a copy written to another folder (the TUI's `W`, a what-if saved).

Every path inside a scenario is relative to the scenario's own folder (docs/scenario-format.md), so a
copy written elsewhere must name the same files from there: relative to the new folder, or absolute
when the two share nothing but the filesystem's root (a bundled scenario written to a project folder).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# where a scenario holds a file name (besides initial states, which are per entry)
_INPUT_FILES = ("file", "image", "vocab", "dataset")


def _moved(value: str, source: Path, target: Path) -> str:
    if os.path.isabs(value):
        return value
    named = os.path.abspath(source / value)
    try:
        common = os.path.commonpath([named, str(target)])
    except ValueError:   # different drives: no relative path between them
        return named
    if common == os.path.dirname(common):   # only the root in common: an absolute path says more
        return named
    return os.path.relpath(named, target)


def _input(section: Any, source: Path, target: Path, changed: list[str], where: str) -> None:
    if not isinstance(section, dict):
        return
    for key in _INPUT_FILES:
        if isinstance(section.get(key), str):
            new = _moved(section[key], source, target)
            if new != section[key]:
                section[key] = new
                changed.append(f"{where}.{key}")


def _states(model: Any, source: Path, target: Path, changed: list[str], where: str) -> None:
    if not isinstance(model, list):
        return
    for i, entry in enumerate(model):
        states = entry.get("initial_state") if isinstance(entry, dict) else None
        if not isinstance(states, dict):
            continue
        for name, value in states.items():
            if isinstance(value, str):
                new = _moved(value, source, target)
                if new != value:
                    states[name] = new
                    changed.append(f"{where}[{i}].initial_state.{name}")


def relocate(data: dict, source_dir: str | Path, target_dir: str | Path) -> list[str]:
    """Rewrite, in *data* (a scenario's parsed map, round-trip or plain), every relative file path written
    for *source_dir* so that it names the same file from *target_dir*. Returns the keys it changed."""
    source = Path(os.path.abspath(source_dir))
    target = Path(os.path.abspath(target_dir))
    changed: list[str] = []
    if source == target or not isinstance(data, dict):
        return changed
    _input(data.get("input"), source, target, changed, "input")
    weights = data.get("weights")
    if isinstance(weights, dict) and isinstance(weights.get("file"), str):
        new = _moved(weights["file"], source, target)
        if new != weights["file"]:
            weights["file"] = new
            changed.append("weights.file")
    _states(data.get("model"), source, target, changed, "model")
    decoder = data.get("decoder")
    if isinstance(decoder, dict):
        _input(decoder.get("input"), source, target, changed, "decoder.input")
        _states(decoder.get("model"), source, target, changed, "decoder.model")
    compare = data.get("compare")
    if isinstance(compare, str) and (source / compare).exists():   # else a bundled scenario's name
        new = _moved(compare, source, target)
        if new != compare:
            data["compare"] = new
            changed.append("compare")
    return changed
