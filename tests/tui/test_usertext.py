"""User text cut to what a screen shows, measured in terminal cells: a CJK character or an emoji takes
two, a combining accent none, and the cut never leaves a character without its accent."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from rnntui.tui.state import ShownTrace
from rnntui.tui.usertext import ELLIPSIS, NAME_CHARS, cut, one_line

# ASCII, CJK (2 cells), an emoji with its skin tone (2 cells, 2 code points), e + combining acute (1 cell)
PIECES = st.lists(st.sampled_from(["a", "Z", " ", "漢", "字", "👍🏽", "e\u0301"]), max_size=60).map("".join)


@given(PIECES, st.integers(1, 40))
def test_a_cut_fits_its_cells_and_keeps_whole_characters(text, limit):
    shown = cut(text, limit)
    assert cell_len(shown) <= limit
    if cell_len(text) <= limit and len(text) <= 4 * limit + 4:
        assert shown == text
        return
    assert shown.endswith(ELLIPSIS)
    kept = shown[: -len(ELLIPSIS)]
    assert text.startswith(kept)
    rest = text[len(kept):]
    assert not rest.startswith("\u0301") and not rest.startswith("\U0001f3fd")  # no accent or tone torn off
    assert cell_len(shown) >= limit - 1 or cell_len(text[: 4 * limit + 4]) < limit  # at most the wide char's cell lost


def test_wide_characters_count_twice():
    assert cut("漢字" * 10, 5) == "漢字" + ELLIPSIS            # 4 cells and the ellipsis; a third would be 7
    assert cut("漢字", 4) == "漢字" and cut("漢字x", 4) == "漢" + ELLIPSIS
    assert cut("e\u0301" * 3, 3) == "e\u0301" * 3               # three cells, six code points: it fits
    assert one_line("漢字\n" * 50, 9) == "漢字 漢" + ELLIPSIS  # 8 cells: the next 字 would make 10


def test_a_wide_name_fits_the_header_line(traces):
    from dataclasses import replace

    trace = traces["bptt"]

    class Renamed(dict):
        info = replace(trace.info, name="名前" * 100)
        whole = trace

    shown = ShownTrace(Renamed())
    assert cell_len(shown.info.name) <= NAME_CHARS and shown.info.name.endswith(ELLIPSIS)
    assert len(shown.info.name) < NAME_CHARS   # counted in characters, 120 of them would take 240 cells
