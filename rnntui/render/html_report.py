"""The HTML report: a document written from the items `report.build` (or `compare.compare_report`) decides.

The text and SVG reports print those items with rich; this writer makes semantic HTML of the same items:
a `doc.Heading` a heading, `doc.Facts` a definition list, a table (rich's or `report_table.Columns`) a
<table> (folded in <details> when long), a paragraph of styled text a <p>, and the drawings in characters
(the training curves, a step table's log-scale bars, feature maps, the input image) charts in inline SVG
with labelled axes, drawn from the numbers the characters were drawn from. Self-contained: inline CSS, no
scripts, no external URLs; every text from the run (names, tokens, descriptions) is escaped.
"""
from __future__ import annotations

import base64
import html
import math
import re
import struct
import zlib
from functools import lru_cache

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.style import Style
from rich.table import Table
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt
from rnntui.render.doc import Facts, Figure, Heading

FOLD_ROWS = 30        # a table longer than this is folded (<details>), its row count in the summary
CHART_W, CHART_H = 760, 230
PAD_L, PAD_R, PAD_T, PAD_B = 78, 18, 26, 46
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")   # C0 (but tab and newlines), DEL, C1
_SPECIAL = re.compile(r"[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
NAMED = {"red": "#b00020", "magenta": "#a0008a", "yellow": "#8a6200", "green": "#1b7a1b", "blue": "#1f4fb4",
         "cyan": "#00707a", "bright_red": "#d0002a", "bright_magenta": "#b000a0", "bright_yellow": "#8a6200",
         "bright_green": "#1b7a1b"}
SERIES = ("#1f4fb4", "#c0392b")   # run A, run B (or the one series)

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a;
       max-width: 1100px; margin: 1.5em auto; padding: 0 1em; background: #fff; }
h1 { font-size: 1.6em; margin: .2em 0 .3em; word-break: break-word; }
h2 { font-size: 1.25em; margin: 1.6em 0 .4em; border-bottom: 1px solid #ccd; padding-bottom: .15em; }
h3 { font-size: 1.05em; margin: 1.1em 0 .3em; }
p { margin: .35em 0; white-space: pre-wrap; word-break: break-word; }
p.description { font-size: 1.05em; color: #333; }
.dim { color: #666; }
.verdict { font-weight: 600; }
table { border-collapse: collapse; margin: .4em 0 .8em; font-size: 13px;
        font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .2em 0; caption-side: top; white-space: nowrap; }
th, td { border: 1px solid #d5d8e0; padding: 2px 7px; vertical-align: top; }
th { background: #eef0f5; text-align: left; }
td.r, th.r { text-align: right; }
td { white-space: pre; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
details { margin: .4em 0; }
summary { cursor: pointer; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: .4em 0 .8em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
figure { margin: .6em 0 1em; }
figcaption { font-size: 13px; color: #444; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #222; }
svg.chart .axis { stroke: #444; stroke-width: 1; fill: none; }
svg.chart .grid { stroke: #e2e4ea; stroke-width: 1; }
svg.chart .marker { stroke: #111; stroke-width: 1.2; stroke-dasharray: 4 3; }
.maps { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; }
.maps figure { margin: 0; text-align: center; }
pre { font: 12px/1.25 ui-monospace, Menlo, Consolas, monospace; overflow-x: auto; }
@media print {
  body { max-width: none; margin: 0; font-size: 11pt; }
  details > summary { list-style: none; }
  details::details-content { content-visibility: visible; display: contents; }
  table, figure { break-inside: auto; }
  tr, svg { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
"""


def esc(s) -> str:
    """Text from the run as HTML text: markup escaped, control characters shown as \\xNN (none reaches
    the document, which would not be well-formed with them)."""
    s = str(s)
    if _SPECIAL.search(s) is None:   # most cells are numbers: nothing to escape
        return s
    return html.escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s), quote=True)


# --- text and styles ----------------------------------------------------------------------------------

@lru_cache(maxsize=512)
def _parse(style) -> Style:
    return style if isinstance(style, Style) else Style.parse(style) if style else Style()


@lru_cache(maxsize=2048)
def _css(style: Style) -> tuple[str, str]:
    """(opening tags, closing tags) for a rich style: bold, dim, italic and the colour of the text."""
    tags = []
    if style.bold:
        tags.append(("<b>", "</b>"))
    if style.italic:
        tags.append(("<i>", "</i>"))
    if style.dim:
        tags.append(('<span class="dim">', "</span>"))
    c = style.color
    if c is not None and not style.reverse:
        if c.triplet is not None:
            colour = c.triplet.hex
        else:
            colour = NAMED.get(c.name)
        if colour:
            tags.append((f'<span style="color:{colour}">', "</span>"))
    if style.reverse:
        tags.append(('<mark>', "</mark>"))
    return "".join(o for o, _ in tags), "".join(c for _, c in reversed(tags))


def _styled(text: str, style) -> str:
    if style is None:
        return esc(text)
    o, c = _css(_parse(style))
    return o + esc(text) + c


def text_html(t: Text) -> str:
    """A rich Text's characters with its styles (spans over a base style) as inline markup."""
    plain = t.plain
    base = _parse(t.style) if t.style else Style()
    if not t.spans:
        return _styled(plain, base)
    cuts = sorted({0, len(plain)} | {s.start for s in t.spans} | {s.end for s in t.spans})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        if a >= b:
            continue
        st = base
        for s in t.spans:
            if s.start <= a and s.end >= b:
                st = st + _parse(s.style)
        out.append(_styled(plain[a:b], st))
    return "".join(out)


def _verdictish(t: Text) -> bool:
    return bool(t.style) and _parse(t.style).bold and _parse(t.style).color is not None


# --- tables -------------------------------------------------------------------------------------------

def _table(caption: str, headers: list[tuple[str, bool]], rows, cell) -> str:
    """<table> with a caption, header cells (name, right-aligned) and rows; *cell*(value, right) -> html
    (None: *rows* are written <tr> lines)."""
    right = [r for _, r in headers]
    head = "".join(f'<th scope="col"{" class=r" if r else ""}>{esc(h)}</th>' for h, r in headers)
    body = "\n".join(rows if cell is None else   # rows already written
                     ("<tr>" + "".join(cell(v, right[i] if i < len(right) else False) for i, v in enumerate(row))
                      + "</tr>" for row in rows))
    n = len(rows)
    table = f"<table>\n<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
    if n > FOLD_ROWS:
        return (f'<details class="table"><summary>{esc(caption)} ({n:,} rows)</summary>\n{table}\n</details>')
    return f"<table>\n<caption>{esc(caption)}</caption>" + table[len("<table>"):]


def columns_html(view) -> str:
    """A `report_table.Columns` table: thousands of rows, each written by one format call (a row of plain
    text with nothing to escape, the common case, is not escaped cell by cell)."""
    cols = view.cols
    n = len(cols.headers)
    row_fmt = "<tr>" + "".join('<td class="r">{}</td>' if a == ">" else "<td>{}</td>" for _, a in cols.headers) + "</tr>"
    lines = []
    for r in cols.rows:
        r = list(r[:n]) + [""] * (n - len(r))
        if all(c.__class__ is str for c in r) and _SPECIAL.search("".join(r)) is None:
            lines.append(row_fmt.format(*r))
        else:
            lines.append(row_fmt.format(*(esc(c) if c.__class__ is str else _styled(c[0], c[1]) for c in r)))
    return _table(cols.title, [(h, a == ">") for h, a in cols.headers], lines, None)


def _rich_cell(c, right: bool) -> str:
    cls = ' class="r"' if right else ""
    return f"<td{cls}>{text_html(c) if isinstance(c, Text) else esc(c)}</td>"


def rich_table_html(t: Table) -> str:
    headers = [(str(col.header.plain if isinstance(col.header, Text) else col.header), col.justify == "right")
               for col in t.columns]
    cells = [list(col._cells) for col in t.columns]
    rows = [[cells[j][i] for j in range(len(cells))] for i in range(t.row_count)]
    title = t.title.plain if isinstance(t.title, Text) else str(t.title or "")
    return _table(title, headers, rows, _rich_cell)


# --- charts -------------------------------------------------------------------------------------------

def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _tick_label(v: float, log: bool) -> str:
    if log:
        return f"1e{int(round(v))}" if abs(v - round(v)) < 1e-9 else f"{10 ** v:.2g}"
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def _y_ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        a, b = math.floor(lo), math.ceil(hi)
        if b - a < 2:   # less than two decades: plain ticks inside the range, in log10 units
            return _nice_ticks(lo, hi, 4) if hi > lo else [lo]
        raw = (b - a) / 7
        step = next(m for m in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if m >= raw)
        first = -(-a // step) * step
        return [float(d) for d in range(first, b + 1, step) if lo - 1e-9 <= d <= hi + 1e-9] or [lo, hi]
    return _nice_ticks(lo, hi, 5)


def line_chart(series: list[tuple[str, np.ndarray]], *, title: str, xlabel: str, ylabel: str, log: bool,
               marker: int | None = None, marker_label: str = "", x_values=None, clipped=None) -> str:
    """An SVG chart of one or two series over the same x (their index, or *x_values*): axes with ticks and
    labels, the scale and its range named, gaps where a value is not finite (a red '!' at the top), zero
    marked at the bottom on a log scale, *marker*'s x drawn as a dashed line."""
    vs = [np.asarray(v, dtype=float).reshape(-1) for _, v in series]
    n = max((v.size for v in vs), default=0)
    xs = np.arange(n, dtype=float) if x_values is None else np.asarray(x_values, dtype=float)
    with np.errstate(all="ignore"):
        ys = [np.where(np.isfinite(v) & (v > 0), np.log10(np.where(v > 0, v, 1.0)), np.nan) if log
              else np.where(np.isfinite(v), v, np.nan) for v in vs]
    finite = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.zeros(0)
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo, hi = 0.0, 1.0
    span = hi - lo if hi > lo else (abs(hi) * 0.1 or 1.0)
    if hi <= lo:
        lo, hi = lo - span / 2, hi + span / 2
    x0, x1 = (float(xs.min()), float(xs.max())) if xs.size else (0.0, 1.0)
    if x1 <= x0:
        x1 = x0 + 1
    W, H = CHART_W, CHART_H
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def X(x):
        return PAD_L + (x - x0) / (x1 - x0) * pw

    def Y(y):
        return PAD_T + (1 - (y - lo) / (hi - lo)) * ph

    rng = ("no finite value" if not finite.size else
           f"log scale, {10 ** lo:.3g} .. {10 ** hi:.3g}" if log else f"linear scale, {fmt(lo, 0)} .. {fmt(hi, 0)}")
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
           f'role="img" aria-label="{esc(title)}" data-scale="{"log" if log else "linear"}"'
           + (f' data-lo="{10 ** lo if log else lo:.6g}" data-hi="{10 ** hi if log else hi:.6g}"' if finite.size else "")
           + (f' data-marker="{marker}"' if marker is not None else "") + ">",
           f"<title>{esc(title)}</title>"]
    for ty in _y_ticks(lo, hi, log):
        y = Y(ty)
        out.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text x="{PAD_L - 5}" y="{y + 4:.1f}" text-anchor="end">{esc(_tick_label(ty, log))}</text>')
    for tx in _nice_ticks(x0, x1, 8):
        if abs(tx - round(tx)) > 1e-9:
            continue
        x = X(tx)
        out.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{H - PAD_B}" y2="{H - PAD_B + 4}"/>'
                   f'<text x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle">{int(round(tx))}</text>')
    out.append(f'<path class="axis" d="M{PAD_L} {PAD_T} V{H - PAD_B} H{W - PAD_R}"/>')
    out.append(f'<text x="{PAD_L + pw / 2:.0f}" y="{H - 8}" text-anchor="middle">{esc(xlabel)}</text>')
    out.append(f'<text transform="translate(14 {PAD_T + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'{esc(ylabel)}</text>')
    out.append(f'<text x="{W - PAD_R}" y="{PAD_T - 9}" text-anchor="end" class="range">{esc(rng)}</text>')
    if clipped is not None and np.any(clipped):
        for j in np.flatnonzero(clipped):
            out.append(f'<line x1="{X(xs[j]):.1f}" x2="{X(xs[j]):.1f}" y1="{H - PAD_B - 5}" y2="{H - PAD_B}" '
                       'stroke="#c77d00" stroke-width="1.5"/>')
    for i, ((label, v), y) in enumerate(zip(series, ys)):
        colour = SERIES[i % len(SERIES)]
        px = X(xs[: y.size])
        py = np.where(np.isfinite(y), Y(np.where(np.isfinite(y), y, lo)), np.nan)
        d, pen = [], False
        for a, b in zip(px.tolist(), py.tolist()):
            if b != b:
                pen = False
                continue
            d.append(f"{'L' if pen else 'M'}{a:.1f} {b:.1f}")
            pen = True
        vv = np.asarray(v, dtype=float).reshape(-1)
        out.append(f'<path d="{" ".join(d)}" fill="none" stroke="{colour}" stroke-width="1.6" '
                   f'data-series="{esc(label)}"/>')
        if y.size <= 400:   # single points (between gaps) would not show as a path: dots
            for a, b in zip(px.tolist(), py.tolist()):
                if b == b:
                    out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="1.8" fill="{colour}"/>')
        bad = np.flatnonzero(~np.isfinite(vv))
        for j in bad[:2000]:
            out.append(f'<text x="{px[j]:.1f}" y="{PAD_T + 9}" text-anchor="middle" fill="#a0008a">!</text>')
        if log:
            for j in np.flatnonzero(vv == 0)[:2000]:
                out.append(f'<text x="{px[j]:.1f}" y="{H - PAD_B - 3}" text-anchor="middle" fill="#888">·</text>')
    if len(series) > 1 or bool(series and series[0][0]):
        for i, (label, _) in enumerate(series):
            x = PAD_L + 10 + i * 150
            out.append(f'<line x1="{x}" x2="{x + 18}" y1="{PAD_T - 12}" y2="{PAD_T - 12}" stroke="{SERIES[i % 2]}" '
                       f'stroke-width="2"/><text x="{x + 22}" y="{PAD_T - 8}">{esc(label)}</text>')
    if marker is not None and x0 <= marker <= x1:
        x = X(marker)
        out.append(f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{H - PAD_B}"/>'
                   f'<text x="{min(x + 4, W - PAD_R - 80):.1f}" y="{PAD_T + 22}">{esc(marker_label or str(marker))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _png(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a base64 PNG (zlib; no imaging library)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode("ascii")


NONFINITE_RGB = (220, 0, 200)
ZERO_RGB = (225, 225, 225)


def _sequential_rgb(a: np.ndarray) -> np.ndarray:
    """0..1 to a light-to-dark blue-purple ramp that prints (higher = darker)."""
    a = np.clip(a, 0.0, 1.0)[..., None]
    light, dark = np.array([240.0, 244.0, 255.0]), np.array([40.0, 20.0, 110.0])
    return (light + (dark - light) * a).astype(np.uint8)


def _diverging_rgb(v: np.ndarray, scale: float) -> np.ndarray:
    """Negative blue, zero white, positive red, over ±scale; non-finite magenta."""
    with np.errstate(all="ignore"):
        a = np.clip(np.where(np.isfinite(v), v / (scale if scale > 0 else 1.0), 0.0), -1.0, 1.0)[..., None]
    white, red, blue = np.array([255.0, 255.0, 255.0]), np.array([200.0, 40.0, 30.0]), np.array([30.0, 80.0, 200.0])
    rgb = np.where(a >= 0, white + (red - white) * a, white + (blue - white) * (-a)).astype(np.uint8)
    rgb[~np.isfinite(v)] = NONFINITE_RGB
    return rgb


def _reduce(a: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, int, int]:
    """At most rows x cols cells: each the largest of a block (non-finite if any is)."""
    H, W = a.shape
    fy, fx = max(1, -(-H // rows)), max(1, -(-W // cols))
    if fy == 1 and fx == 1:
        return a, 1, 1
    Hp, Wp = -(-H // fy) * fy, -(-W // fx) * fx
    pad = np.full((Hp, Wp), -np.inf)
    pad[:H, :W] = np.where(np.isnan(a), np.inf, a)
    blocks = pad.reshape(Hp // fy, fy, Wp // fx, fx)
    out = blocks.max(axis=(1, 3))
    return np.where(np.isinf(out) & (out > 0), np.nan, out), fy, fx


def log_picture(a: np.ndarray, *, title: str, xlabel: str, ylabel: str, marker_row: int | None = None,
                marker_col: int | None = None) -> str:
    """An (rows, columns) array of magnitudes as an SVG heatmap on a log scale: the axes numbered, a colour
    legend with the smallest and largest values, light grey for zero, magenta not finite."""
    a = np.asarray(a, dtype=float)
    R, C = a.shape
    small, fy, fx = _reduce(a, 400, 800)
    drawn = np.isfinite(small) & (small > 0)
    pos = small[drawn]
    lo, hi = (math.log10(pos.min()), math.log10(pos.max())) if pos.size else (0.0, 0.0)
    with np.errstate(all="ignore"):
        level = np.where(drawn, (np.log10(np.where(drawn, small, 1.0)) - lo) / max(hi - lo, 1e-12), 0.0)
    rgb = _sequential_rgb(level)
    rgb[np.isfinite(small) & ~drawn] = ZERO_RGB
    rgb[~np.isfinite(small)] = NONFINITE_RGB
    W, H = CHART_W, max(180, min(420, 40 + 4 * small.shape[0] + PAD_T + PAD_B))
    pw, ph = W - PAD_L - PAD_R - 100, H - PAD_T - PAD_B   # room on the right for the legend and its numbers
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
           f'role="img" aria-label="{esc(title)}" data-scale="log"'
           + (f' data-lo="{10 ** lo:.6g}" data-hi="{10 ** hi:.6g}"' if pos.size else "") + ">",
           f"<title>{esc(title)}</title>",
           f'<image x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" preserveAspectRatio="none" '
           f'style="image-rendering:pixelated" href="data:image/png;base64,{_png(rgb)}"/>',
           f'<rect class="axis" x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}"/>']
    for t in _nice_ticks(0, C - 1, 8):
        x = PAD_L + (t + 0.5) / C * pw
        out.append(f'<text x="{x:.1f}" y="{H - PAD_B + 14}" text-anchor="middle">{int(t)}</text>')
    for t in _nice_ticks(0, R - 1, 6):
        y = PAD_T + (t + 0.5) / R * ph
        out.append(f'<text x="{PAD_L - 5}" y="{y + 4:.1f}" text-anchor="end">{int(t)}</text>')
    out.append(f'<text x="{PAD_L + pw / 2:.0f}" y="{H - 8}" text-anchor="middle">{esc(xlabel)}</text>')
    out.append(f'<text transform="translate(14 {PAD_T + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'{esc(ylabel)}</text>')
    if marker_row is not None and 0 <= marker_row < R:
        y = PAD_T + (marker_row + 0.5) / R * ph
        out.append(f'<path d="M{PAD_L - 2} {y:.1f} l-8 -5 v10 z" fill="#111"/>'
                   f'<line class="marker" x1="{PAD_L}" x2="{PAD_L + pw}" y1="{y:.1f}" y2="{y:.1f}"/>')
    if marker_col is not None and 0 <= marker_col < C:
        x = PAD_L + (marker_col + 0.5) / C * pw
        out.append(f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + ph}"/>')
    # the legend: the ramp from the smallest to the largest value drawn
    lx = PAD_L + pw + 14
    ramp = _sequential_rgb(np.linspace(1.0, 0.0, 64)[:, None]).reshape(64, 1, 3)
    out.append(f'<image x="{lx}" y="{PAD_T}" width="14" height="{ph}" preserveAspectRatio="none" '
               f'href="data:image/png;base64,{_png(ramp)}"/>')
    if pos.size:
        out.append(f'<text x="{lx + 18}" y="{PAD_T + 9}">{10 ** hi:.2e}</text>'
                   f'<text x="{lx + 18}" y="{PAD_T + ph}">{10 ** lo:.2e}</text>')
    note = "log scale" + ("" if fy == fx == 1 else f"; a cell the largest of {fy}x{fx}") + "; grey: zero; magenta: not finite"
    out.append(f'<text x="{PAD_L}" y="{PAD_T - 9}">{esc(note)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def heatmap(a: np.ndarray, scale: float, label: str) -> str:
    """A small map (H, W) on a diverging scale ±*scale*, each pixel a rect with its value as a tooltip
    (an image for a large map)."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    H, W = a.shape
    px = max(2, min(12, 96 // max(H, W, 1)))
    rgb = _diverging_rgb(a, scale)
    body = []
    if H * W <= 1024:
        for y in range(H):
            for x in range(W):
                r, g, b = rgb[y, x]
                body.append(f'<rect x="{x * px}" y="{y * px}" width="{px}" height="{px}" fill="#{r:02x}{g:02x}{b:02x}">'
                            f"<title>({y}, {x}) {a[y, x]:.4g}</title></rect>")
    else:
        body.append(f'<image width="{W * px}" height="{H * px}" preserveAspectRatio="none" '
                    f'style="image-rendering:pixelated" href="data:image/png;base64,{_png(rgb)}"/>')
    return (f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{W * px}" height="{H * px}" '
            f'viewBox="0 0 {W * px} {H * px}" role="img" aria-label="{esc(label)}">{"".join(body)}'
            f'<rect x="0" y="0" width="{W * px}" height="{H * px}" fill="none" stroke="#888"/></svg>'
            f"<figcaption>{esc(label)}</figcaption></figure>")


def diverging_legend(scale: float) -> str:
    return (f'<p class="dim">blue negative, white zero, red positive, shared scale ±{scale:.3g}; '
            "magenta not finite</p>")


# --- the writer -----------------------------------------------------------------------------------------

class Writer:
    def __init__(self):
        self.parts: list[str] = []
        self.title = ""

    def add(self, item) -> None:
        from rnntui.render.maps.draw import HeatMap
        from rnntui.render.report_table import ColumnsView
        from rnntui.render.training import CurveRows

        p = self.parts
        if isinstance(item, Heading):
            p.append(f"<h{item.level}>{esc(item.text)}</h{item.level}>")
        elif isinstance(item, Facts):
            p.append(f'<h3>{esc(item.title)}</h3>\n<dl class="facts">'
                     + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in item.pairs) + "</dl>")
        elif isinstance(item, Figure):
            p.append(figure_html(item))
            if item.table:
                self.add(item.text)
        elif isinstance(item, Panel):
            title = item.title.plain if isinstance(item.title, Text) else str(item.title or "")
            if not self.title:
                self.title = title
                p.append(f"<h1>{esc(title)}</h1>")
            else:
                p.append(f"<h2>{esc(title)}</h2>")
            body = item.renderable
            p.append(f'<p class="description">{text_html(body) if isinstance(body, Text) else esc(body)}</p>')
        elif isinstance(item, ColumnsView):
            p.append(columns_html(item))
        elif isinstance(item, Table):
            p.append(rich_table_html(item))
        elif isinstance(item, Group):
            for r in item.renderables:
                self.add(r)
        elif isinstance(item, Text):
            if not item.plain.strip():
                return
            cls = ' class="verdict"' if _verdictish(item) else ""
            p.append(f"<p{cls}>{text_html(item)}</p>")
        elif isinstance(item, CurveRows):
            p.append(curves_html(item))
        elif isinstance(item, HeatMap):
            p.append('<div class="maps">' + heatmap(item.a, item.scale, "") + "</div>" + diverging_legend(item.scale))
        elif isinstance(item, str):
            if item.strip():
                p.append(f"<p>{esc(item)}</p>")
        else:   # any other drawing: its characters as they print
            p.append(f"<pre>{esc(_plain(item))}</pre>")


def _plain(item) -> str:
    import io

    from rich.console import Console

    c = Console(file=io.StringIO(), width=160, color_system=None, record=True)
    c.print(item)
    return c.export_text()


def figure_html(f: Figure) -> str:
    d = f.data
    if f.kind == "steps":
        series = d["series"] if "series" in d else [("", d["values"])]
        return ("<figure>" + line_chart(series, title=d["title"], xlabel=d.get("xlabel", "step t"),
                                         ylabel=d["ylabel"], log=d.get("log", True), x_values=d.get("x")) + "</figure>")
    if f.kind == "maps":
        maps, scale = np.asarray(d["maps"], dtype=float), float(d["scale"])
        figs = "".join(heatmap(maps[k], scale, f"{d.get('noun', 'channel')} {k}") for k in range(maps.shape[0]))
        return f"<div class=\"maps\" aria-label=\"{esc(d['title'])}\">{figs}</div>" + diverging_legend(scale)
    raise ValueError(f"no HTML drawing for figure kind {f.kind!r}")


def curves_html(c) -> str:
    """The training curves: loss and gradient norm over every iteration (both runs' on one chart for a
    compare), the chosen iteration marked, clipping ticked; then the iterations x steps picture of the
    gradient each recurrent place's steps received."""
    from rnntui.render.training import scale_of

    runs = [("", c.trace)] if c.other is None else [(f"{c.labels[0]}", c.trace), (f"{c.labels[1]}", c.other)]
    k = c.k
    out = []
    for key, name, positive, unit in ((keys.TRAIN_LOSS, "loss", True, "loss"),
                                      (keys.TRAIN_GRADNORM, "‖g‖", False, "‖g‖")):
        series = [(label, np.asarray(t[key], dtype=float)) for label, t in runs]
        log = scale_of(*(v for _, v in series), positive_only=positive).log
        clipped = None
        if key == keys.TRAIN_GRADNORM and len(runs) == 1 and keys.TRAIN_CLIPPED in c.trace:
            clipped = np.asarray(c.trace[keys.TRAIN_CLIPPED], dtype=bool)
        what = "loss" if key == keys.TRAIN_LOSS else "gradient norm"
        out.append("<figure>" + line_chart(
            series, title=f"{what} per iteration", xlabel="iteration", ylabel=unit + (" (log)" if log else ""),
            log=log, marker=k, marker_label=f"iteration {k}" if k is not None else "", clipped=clipped)
            + f"<figcaption>{esc(what.capitalize())} at every iteration"
            + (" (‖g‖: the norm of every parameter's gradient together, before clipping)" if key == keys.TRAIN_GRADNORM else "")
            + (f"; the dashed line is iteration {k}, the one reported below" if k is not None else "")
            + ("; orange ticks: clipping acted" if clipped is not None and clipped.any() else "")
            + "</figcaption></figure>")
    if c.other is None:
        for p in c.trace.info.places:
            key = keys.train_bptt(p.prefix)
            if p.layer is None or key not in c.trace:
                continue
            a = np.asarray(c.trace[key], dtype=float)
            out.append(f"<h3>{esc(f'Gradient reaching each step of {p.prefix}, every iteration')}</h3><figure>"
                       + log_picture(a, title=f"‖dL/dh_t‖ of {p.prefix}: iterations down, steps across",
                                     xlabel="step t", ylabel="iteration", marker_row=k)
                       + "<figcaption>‖dL/dh_t‖ per iteration (rows) and step (columns), log scale"
                       + (f"; the arrow marks iteration {k}" if k is not None else "") + "</figcaption></figure>")
    return "\n".join(out)


def document(items: list, title: str) -> str:
    """The whole HTML document of a report's items."""
    w = Writer()
    for item in items:
        w.add(item)
    if not w.title:   # a comparison: no panel names the run, the document's title does
        w.parts.insert(0, f"<h1>{esc(title)}</h1>")
    body = "\n".join(w.parts)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta name=\"generator\" content=\"rnntui\">\n<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
            f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
