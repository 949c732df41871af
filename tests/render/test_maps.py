"""Feature-map views: the conv explanation against the recorded values and an independent NumPy sum,
the receptive field against PyTorch's gradient, heatmap cells against a per-pixel reference."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console
from rich.style import Style

import rnntui
from rnntui.render.colors import diverging
from rnntui.render.cursor import Cursor
from rnntui.render.maps.draw import MARK, HeatMap, colour_index, halfblock_rows, shades
from rnntui.render.maps.geometry import receptive_pixels
from rnntui.render.maps.panels import map_panel, overview

NUMBER = r"(-?\d+\.\d+(?:e[-+]\d+)?)"


@pytest.fixture(scope="module")
def cnn():
    return rnntui.run("cnn-digit")


def explanation(trace, cursor: Cursor, width: int) -> str:
    """The 'value = ...' line of the map panel, as a person reads it (no colour, never wrapped)."""
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(map_panel(trace, cursor, width))
    lines = [ln.strip() for ln in out.getvalue().splitlines() if ln.strip().startswith("value = bias")]
    assert len(lines) == 1, out.getvalue()
    return lines[0]


def reference_sums(trace, e, b: int, ch: int, y: int, x: int):
    """bias, and w×x summed per input channel, from the weights and the padded input (stride and
    dilation 1, the scenarios' convs)."""
    xin = np.asarray(trace["input"][b] if e.index == 0 else trace[f"model.{e.index - 1}.out"][b], dtype=float)
    W = np.asarray(trace[f"param.{e.index}.weight"], dtype=float)[ch]
    kh, kw = W.shape[1:]
    pad = e.options["pad"]
    xp = np.pad(xin, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    per_channel = (W * xp[:, y:y + kh, x:x + kw]).sum(axis=(1, 2))
    return float(trace[f"param.{e.index}.bias"][ch]), per_channel


@pytest.mark.parametrize("entry,ch,width", [(2, 5, 100), (2, 0, 80), (2, 6, 220)])
def test_conv_explanation_is_an_honest_sum(cnn, entry, ch, width):
    info = cnn.info
    k = next(i for i, p in enumerate(info.places) if p.entry == entry)
    e = info.entries[entry]
    pre = np.asarray(cnn[f"model.{entry}.pre"][0, ch])
    # the position where this channel's pre-activation is largest in size: a value the sum must reach
    y, x = np.unravel_index(np.argmax(np.abs(pre)), pre.shape)
    line = explanation(cnn, Cursor(place_index=k, t=int(y * pre.shape[1] + x), unit=ch), width)
    bias, per_channel = reference_sums(cnn, e, 0, ch, int(y), int(x))
    numbers = [float(v) for v in re.findall(NUMBER, line)]
    assert line.startswith(f"value = bias {bias:.4f} + Σ w×x over in ch 0")
    shown = 4 if width == 220 else 1
    assert f"in ch 0..{shown - 1} (shown)" in line or (shown == 1 and "in ch 0 (shown)" in line)
    assert f"in ch {shown}..7 (not shown)" in line
    # bias, Σ over the shown channels, Σ over the others, the value, the activated value
    assert numbers[0] == pytest.approx(bias, abs=1e-4)
    assert numbers[-4] == pytest.approx(per_channel[:shown].sum(), abs=1e-4)
    assert numbers[-3] == pytest.approx(per_channel[shown:].sum(), abs=1e-4)
    assert numbers[-2] == pytest.approx(float(pre[y, x]), abs=1e-4)
    assert numbers[-2] == pytest.approx(bias + per_channel.sum(), abs=1e-4)
    assert line.endswith(f"→ relu = {float(cnn[f'model.{entry}.out'][0, ch, y, x]):.4f}")


def test_conv_explanation_on_one_input_channel_at_the_padded_edge(cnn):
    """model.0 reads one channel with padding 1: at (0, 0) a row and a column of the window are padding."""
    bias, per_channel = reference_sums(cnn, cnn.info.entries[0], 0, 2, 0, 0)
    line = explanation(cnn, Cursor(place_index=0, t=0, unit=2), 100)
    pre = float(cnn["model.0.pre"][0, 2, 0, 0])
    assert line == (f"value = bias {bias:.4f} + Σ w×x {per_channel.sum():.4f} = {pre:.4f} → relu = "
                    f"{max(pre, 0.0):.4f}")


def test_conv_explanation_without_activation_ends_at_the_output():
    trace = rnntui.run("sobel-edges")
    out = np.asarray(trace["model.0.out"][0, 1])
    y, x = np.unravel_index(np.argmax(np.abs(out)), out.shape)
    line = explanation(trace, Cursor(t=int(y * out.shape[1] + x), unit=1), 100)
    bias, per_channel = reference_sums(trace, trace.info.entries[0], 0, 1, int(y), int(x))
    assert line == f"value = bias {bias:.4f} + Σ w×x {per_channel.sum():.4f} = {out[y, x]:.4f}"


@pytest.mark.parametrize("stride,dilation,padding", [(1, 1, 1), (2, 2, 1), (3, 1, 0)])
def test_receptive_pixels_are_what_the_output_depends_on(tmp_path, stride, dilation, padding):
    """The marked pixels are exactly those with a non-zero gradient in PyTorch's conv2d (weights all one)."""
    import torch

    path = tmp_path / "conv.yaml"
    path.write_text("name: geometry\ninput: {generate: {kind: digit, digit: 2, size: 11}}\nmodel:\n"
                    f"  - {{type: conv2d, out_channels: 2, kernel_size: 3, stride: {stride}, dilation: {dilation}, "
                    f"padding: {padding}}}\nloss: {{kind: sum}}\n")
    trace = rnntui.run(path)
    e = trace.info.entries[0]
    _, H, W = e.out_shape
    for y, x in [(0, 0), (H - 1, W - 1), (H // 2, W // 3)]:
        xin = torch.zeros((1, 1, 11, 11), dtype=torch.float64, requires_grad=True)
        out = torch.nn.functional.conv2d(xin, torch.ones((1, 1, 3, 3), dtype=torch.float64), stride=stride,
                                         dilation=dilation, padding=padding)
        out[0, 0, y, x].backward()
        expected = {(int(r), int(c)) for r, c in zip(*np.nonzero(xin.grad[0, 0].numpy()))}
        _, pixels, label = receptive_pixels(trace, e, 0, 1, (y, x))
        assert pixels == expected, (y, x)
        assert label == "input, channel 0: the receptive field"


def test_halfblock_cells_match_a_per_pixel_reference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 7))
    a[1, 2], a[4, 6] = np.nan, np.inf
    scale = 1.5
    cells = halfblock_rows(colour_index(a, scale), {(0, 0), (3, 4)})
    assert len(cells.rows) == 3 and all(len(row) == 7 for row in cells.rows)

    def colour(y, x):
        return MARK if (y, x) in {(0, 0), (3, 4)} else diverging(float(a[y, x]), scale)

    for r, row in enumerate(cells.rows):
        for x, (ch, style) in enumerate(row):
            assert ch == "▀"
            bottom = colour(2 * r + 1, x) if 2 * r + 1 < 5 else None
            assert style == Style(color=colour(2 * r, x), bgcolor=bottom), (r, x)


def test_shades_match_a_per_pixel_reference():
    a = np.array([[0.0, 0.2, -0.2, 0.5, -0.7, 1.0, -1.0, np.nan]])
    cells = shades(a, {(0, 3)}, scale=1.0)
    assert cells.plain == " ░-X≡█■!"
    assert cells.rows[0][3][1] == Style(bold=True, reverse=True)


def test_heatmap_draws_for_the_console_it_meets():
    a = np.arange(12, dtype=float).reshape(4, 3) - 5
    colour, plain = io.StringIO(), io.StringIO()
    Console(file=colour, width=40, color_system="truecolor", force_terminal=True).print(HeatMap(a))
    Console(file=plain, width=40, color_system=None).print(HeatMap(a))
    assert colour.getvalue().count("▀") == 6 and "\x1b[" in colour.getvalue()
    # one character a pixel, scale 6: level = floor(|v| / 6 * 4 + 0.5), negative values in - = ≡ ■
    assert [ln.rstrip() for ln in plain.getvalue().splitlines()] == ["≡≡=", "--", "░░▒", "▓▓█"]


def test_overview_is_kept_for_every_position_and_follows_the_channel(cnn):
    first = overview(cnn, Cursor(t=0, unit=2), 100, 12)
    assert overview(cnn, Cursor(t=57, unit=2), 100, 12) is first
    other = overview(cnn, Cursor(t=57, unit=3), 100, 12)
    labels = [row for row in other.renderables[1].plain.splitlines() if "▸" in row]
    assert labels and "▸3" in labels[0] and "▸2" not in labels[0]
    # a new trace with the same shapes never gets the old one's drawing
    assert overview(rnntui.run("cnn-digit"), Cursor(t=0, unit=2), 100, 12) is not first
