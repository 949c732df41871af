"""A scenario's name and description reach the TUI's title, header and help screen escaped: an ESC in
them would otherwise go to the terminal raw (escape injection: retitling the window and worse)."""
from __future__ import annotations

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_text


async def test_name_and_description_are_escaped_everywhere_the_tui_shows_them(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text('name: "evil\\e]0;pwned\\a"\ndescription: "line one\\e[2J\\nline two"\n'
                 "input: {values: [[1], [2]]}\nmodel: [{type: rnn, hidden_size: 2}]\n")
    trace = rnntui.run(p)
    assert "\x1b" in trace.info.name and "\x1b" in trace.info.description
    app = RnntuiApp(trace)
    async with app.run_test(size=(100, 30)) as pilot:
        assert "\x1b" not in app.title and "\x07" not in app.title
        assert "\\x1b]0;pwned" in screen_text(app)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "\x1b" not in text and "line one\\x1b[2J" in text
