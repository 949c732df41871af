"""A scan's rows as a ranked table (the terminal's and the HTML report's), a small histogram of each measure,
and the data files (`.csv`, `.npz` with the same column names) a notebook reads."""
from __future__ import annotations

import csv
import html
import io
import math

import numpy as np
from rich.table import Table
from rich.text import Text

from rnntui.engine import keys
from rnntui.numfmt import fmt

SHOWN = ("sample", "length", "loss", "correct", "verdict", "rate", "ratio", "min_gradnorm", "min_gradnorm_step",
         "max_gradnorm", "max_gradnorm_step", "first_nonfinite_step")
HISTOGRAMS = ("loss", "rate", "max_gradnorm", "min_gradnorm")
BARS = " ▁▂▃▄▅▆▇█"


def cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return fmt(value, 0) if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5) else f"{value:.4g}"
    return str(value)


def histogram(values, bins: int = 20) -> tuple[str, str]:
    """(one line of bars, its range in words) of the finite values; on a log scale where all are positive and
    they span more than a factor of 100 (gradient norms do)."""
    v = np.asarray([x for x in values if isinstance(x, (int, float)) and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return "", "no finite value"
    log = bool((v > 0).all() and v.max() / v.min() > 100)
    w = np.log10(v) if log else v
    lo, hi = float(w.min()), float(w.max())
    counts, _ = np.histogram(w, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    top = counts.max()
    line = "".join(BARS[0 if c == 0 else max(1, int(round(c / top * (len(BARS) - 1))))] for c in counts)
    scale = "log scale" if log else "linear"
    return line, f"{fmt(float(v.min()), 0)} .. {fmt(float(v.max()), 0)} ({scale}, {v.size} samples)"


def terminal(scan, by: str | None = None, top: int = 20) -> list:
    """Renderables: what was scanned, the histograms, the worst *top* rows."""
    out = [Text(f"scan of {scan.scenario}: {len(scan.rows):,} of {scan.N:,} samples of {scan.dataset}"
                + ("" if scan.complete else " (interrupted: the rows done so far)"), style="bold")]
    for name in HISTOGRAMS:
        line, words = histogram([r.get(name) for r in scan.rows])
        out.append(Text(f"{name:>13} {line}  {words}"))
    kinds = {}
    for r in scan.rows:
        kinds[r["verdict"] or "-"] = kinds.get(r["verdict"] or "-", 0) + 1
    out.append(Text("verdicts: " + ", ".join(f"{n:,} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))))
    table = Table(title=f"worst {min(top, len(scan.rows))} first" + (f" by {by}" if by else
                  " (not finite, then the per-step rate furthest from 1)"), title_justify="left")
    cols = [c for c in SHOWN if any(c in r for r in scan.rows)]
    for c in cols:
        table.add_column(c, justify="left" if c == "verdict" else "right")
    for r in scan.ranked(by)[:top]:
        table.add_row(*(cell(r.get(c, "")) for c in cols))
    out.append(table)
    return out


def to_csv(scan) -> str:
    cols = scan.columns
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in scan.rows:
        w.writerow(["" if (isinstance(r.get(c), float) and math.isnan(r[c])) else r.get(c, "") for c in cols])
    return buf.getvalue()


def to_arrays(scan) -> dict[str, np.ndarray]:
    out = {}
    for c in scan.columns:
        values = [r.get(c, math.nan) for r in scan.rows]
        if c == "verdict":
            out[c] = np.asarray(values, dtype=str)
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            out[c] = np.asarray(values, dtype=np.int64)
        else:
            out[c] = np.asarray(values, dtype=np.float64)
    out[keys.META_SAMPLES] = np.asarray(scan.N, dtype=np.int64)
    return out


def to_html(scan, by: str | None = None) -> str:
    """A document: what was scanned, each measure's distribution, and every row ranked (a sortable table)."""
    cols = scan.columns
    head = "".join(f"<th onclick=\"sortBy({i})\">{html.escape(c)}</th>" for i, c in enumerate(cols))
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(cell(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                     for r in scan.ranked(by))
    hists = "".join(f"<tr><th>{html.escape(n)}</th><td class=bars>{html.escape(histogram([r.get(n) for r in scan.rows])[0])}"
                    f"</td><td>{html.escape(histogram([r.get(n) for r in scan.rows])[1])}</td></tr>" for n in HISTOGRAMS)
    state = "" if scan.complete else "<p><strong>Interrupted:</strong> the rows done so far.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rnntui scan: {html.escape(scan.scenario)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{cursor:pointer;background:#f4f4f4}}
td.bars{{font-family:monospace;text-align:left}}</style></head><body>
<h1>Scan of {html.escape(scan.scenario)}</h1>
<p>{len(scan.rows):,} of {scan.N:,} samples of {html.escape(scan.dataset)}, each run alone forward and backward.
Worst first: not finite, then the per-step gradient rate (the verdict's, from the sample's own last real step)
furthest from 1. Click a column to sort by it.</p>{state}
<h2>Distributions</h2><table>{hists}</table>
<h2>Samples</h2><table id=rows><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<script>
function sortBy(i){{const t=document.getElementById('rows').tBodies[0];const rows=[...t.rows];
const v=r=>{{const s=r.cells[i].textContent;const n=parseFloat(s);return isNaN(n)?s:n}};
const d=t.dataset.col==i&&t.dataset.dir=='d'?'a':'d';t.dataset.col=i;t.dataset.dir=d;
rows.sort((a,b)=>{{const x=v(a),y=v(b);const c=x<y?-1:x>y?1:0;return d=='d'?-c:c}});rows.forEach(r=>t.appendChild(r))}}
</script></body></html>
"""


__all__ = ["histogram", "terminal", "to_arrays", "to_csv", "to_html"]
