"""The views' fast path to strips draws exactly what rich draws, cell by cell; the array forms of the
colour scales pick exactly what the scalar ones pick."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console, Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from rnntui.render import colors
from rnntui.render.segments import Cells
from rnntui.render.strips import BLOCKS, log_sparkline, unit_strip
from rnntui.tui.strips import to_strips
from tests.colors_ref import shade

BASE = Style(color="#e0e0e0", bgcolor="#121212")
CONSOLE = Console(width=100, color_system="truecolor", file=open("/dev/null", "w"), legacy_windows=False)  # noqa: SIM115


class _App:
    """What to_strips reads from a Textual app: its console and console options."""

    console = CONSOLE
    console_options = CONSOLE.options


def cells_of(lines) -> list[list[tuple[str, Style]]]:
    """Each line as (character, effective style) per cell; a blank line has no cells."""
    out = []
    for line in lines:
        row = []
        for seg in line:
            if seg.control:
                continue
            row.extend((ch, seg.style or Style()) for ch in seg.text)
        out.append(row)
    return out


def rich_reference(renderable, width: int):
    options = CONSOLE.options.update(width=width, height=None, highlight=False)
    return cells_of(CONSOLE.render_lines(renderable, options, style=BASE, pad=False))


def ours(renderable, width: int):
    return cells_of(list(strip) for strip in to_strips(renderable, width, BASE, _App()))


def sample_cells() -> Cells:
    c = Cells()
    c.add("label ", Style(bold=True)).add("t 0..9", Style(dim=True)).newline()
    for k in range(12):
        c.add("▒", colors.color_style(colors.diverging(k / 6 - 1)))
    c.newline().add("      ").add("▼", Style(color="yellow"))
    return c


CASES = {
    "text with spans": Text.assemble(("bold ", Style(bold=True)), "plain ", ("red", Style(color="red"))),
    "text styled, no spans": Text("dim italic line", Style(dim=True, italic=True)),
    "lines and a trailing newline": Text("first line\nsecond\n", Style(dim=True)),
    "text that wraps": Text("a sentence long enough to wrap at a narrow width, twice over " * 2, Style(bold=True)),
    "blank lines": Text("\n\nx\n"),
    "a word longer than the width": Text("short " + "x" * 50 + " tail", Style(color="cyan")),
    "no wrap": Text("this line is not wrapped but cut at the width " * 2, no_wrap=True),
    "wrapping with spans": Text.assemble(("BPTT at t=3: ", Style(bold=True)), "dL/dh_t = 1.0e-03 " * 6,
                                         ("(through time)", Style(dim=True))),
    "cells": sample_cells(),
    "cells cut to the width": sample_cells().add("a long tail that will not fit in the width " * 3),
    "table": Table("a", "b"),
    "group of all": Group(Text("head", Style(bold=True)), sample_cells(), Text("wrapping text " * 8),
                          Text.assemble(("k", Style(color="cyan")), " = 1.0")),
}
CASES["table"].add_row("1", Text("2", Style(color="green")))


@pytest.mark.parametrize("width", [12, 37, 80])
@pytest.mark.parametrize("name", sorted(CASES))
def test_strips_draw_what_rich_draws(name, width):
    assert ours(CASES[name], width) == rich_reference(CASES[name], width)


@pytest.mark.parametrize("width", [12, 37])
def test_every_strip_fits_its_width(width):
    for renderable in CASES.values():
        for strip in to_strips(renderable, width, BASE, _App()):
            assert strip.cell_length <= width
            assert strip.cell_length == sum(len(seg.text) for seg in strip)


values = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                            st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.0, 1 / 64, 1 / 8])), min_size=1, max_size=40)
scales = st.sampled_from([1.0, 0.5, 2.0, 1e-9, 0.0, 3.7])


@settings(max_examples=200, deadline=None)
@given(values, scales)
def test_array_scales_pick_what_the_scalar_scales_pick(vs, scale):
    v = np.array(vs)
    shades = colors.SHADE_CHARS[colors.shade_index(v, scale)]
    assert list(shades) == [(shade(x, scale) if shade(x, scale) != " " else "·") for x in vs]
    div = colors.DIVERGING_STYLES[0][colors.diverging_index(v, scale)]
    assert list(div) == [colors.color_style(colors.diverging(x, scale)) for x in vs]
    seq = colors.SEQUENTIAL_STYLES[1][colors.sequential_index(v)]
    assert list(seq) == [colors.color_style(colors.sequential(x), reverse=True) for x in vs]


@settings(max_examples=100, deadline=None)
@given(values, scales, st.integers(-2, 42), st.booleans())
def test_unit_strip_into_cells_matches_into_text(vs, scale, selected, gate):
    v = np.array(vs)
    cells = unit_strip(v, selected, scale, gate, into=Cells())
    text = unit_strip(v, selected, scale, gate)
    assert cells.plain == text.plain
    assert [s for _, s in cells.rows[0]] == [text.get_style_at_offset(CONSOLE, k) for k in range(len(vs))]
    for k, x in enumerate(vs):
        reverse = k == selected
        colour = colors.sequential(x) if gate else colors.diverging(x, scale)
        assert cells.rows[0][k][1] == colors.color_style(colour, reverse=reverse)


def test_log_sparkline_bars_follow_log10():
    v = np.array([1e-6, 1e-4, 1e-2, 1.0, 0.0, math.nan])
    text = log_sparkline(v, marker=2)
    # 1e-6 .. 1 spans six decades: 0, 1/3, 2/3 and 1 of the way up
    assert text.plain == BLOCKS[0] + BLOCKS[round(7 / 3)] + BLOCKS[round(14 / 3)] + BLOCKS[7] + "·!"
    assert text.get_style_at_offset(CONSOLE, 2).reverse


def test_log_sparkline_outside_a_given_range_is_clamped():
    # a range taken from a longer series may not contain every value of a window
    text = log_sparkline(np.array([1e-9, 1.0, 1e9]), lo=-3.0, hi=3.0)
    assert text.plain == BLOCKS[0] + BLOCKS[4] + BLOCKS[7]
