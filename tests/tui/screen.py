"""The screen as text, read from Textual's public SVG screenshot (no private compositor)."""
from __future__ import annotations

import html
import re

_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')
CELL_WIDTH = 12.2  # rich's SVG export: one terminal cell in x


def screen_lines(app) -> list[str]:
    """Each terminal row of what *app* shows now, as plain text."""
    return svg_lines(app.export_screenshot())


def svg_lines(svg: str) -> list[str]:
    """Each terminal row of a screenshot (Textual's SVG), as plain text."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in _TEXT.findall(svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    lines = []
    for y in sorted(rows):
        line: list[str] = []
        for x, text in sorted(rows[y]):
            col = round(x / CELL_WIDTH)
            line.extend(" " * (col - len(line)))
            line[col:col + len(text)] = text
        lines.append("".join(line).rstrip())
    return lines


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


async def screens_after(trace, keys, size) -> tuple[str, object]:
    """The screenshot and cursor of the debugger on *trace* after pressing *keys*, each key's workers done."""
    from rnntui.tui.app import RnntuiApp

    app = RnntuiApp(trace)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
        return app.export_screenshot(), app.cursor
