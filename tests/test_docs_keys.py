"""Every key a scenario may hold is in docs/scenario-format.md: a key the loader takes but the docs never
name (`class_names:`, `events:`) is found only by reading the source."""
from __future__ import annotations

import re
from pathlib import Path

from rnntui.scenario.schema import Events, Top

DOC = (Path(__file__).parent.parent / "docs" / "scenario-format.md").read_text()


def table_keys(heading: str) -> set[str]:
    """The first column of the table under *heading*."""
    section = DOC.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", section, re.M)}


def test_every_top_level_key_is_in_the_table():
    assert set(Top.model_fields) - table_keys("## Top level") == set()


def test_every_events_threshold_is_documented_with_its_default():
    documented = table_keys("## `events`")
    assert set(Events.model_fields) == documented
    for name, field in Events.model_fields.items():
        m = re.search(rf"^\| `{name}` \| ([^|]+) \|", DOC, re.M)
        assert m and float(m.group(1)) == field.default, name


def test_class_names_has_its_section():
    assert "\n## `class_names`\n" in DOC
