"""A small handwritten-style digit, drawn from strokes, so CNN scenarios need no data file."""
from __future__ import annotations

import numpy as np

# strokes in a unit box (x right, y down), one polyline each
STROKES = {
    0: [[(0.5, 0.1), (0.2, 0.3), (0.2, 0.7), (0.5, 0.9), (0.8, 0.7), (0.8, 0.3), (0.5, 0.1)]],
    1: [[(0.35, 0.25), (0.55, 0.1), (0.55, 0.9)]],
    2: [[(0.2, 0.3), (0.4, 0.1), (0.7, 0.15), (0.75, 0.35), (0.2, 0.9), (0.8, 0.9)]],
    3: [[(0.2, 0.15), (0.75, 0.15), (0.45, 0.45), (0.75, 0.65), (0.6, 0.9), (0.2, 0.85)]],
    4: [[(0.65, 0.9), (0.65, 0.1), (0.15, 0.65), (0.85, 0.65)]],
    5: [[(0.8, 0.1), (0.25, 0.1), (0.2, 0.45), (0.65, 0.45), (0.8, 0.7), (0.55, 0.9), (0.2, 0.85)]],
    6: [[(0.7, 0.1), (0.3, 0.4), (0.2, 0.75), (0.5, 0.9), (0.75, 0.7), (0.55, 0.5), (0.25, 0.6)]],
    7: [[(0.15, 0.12), (0.85, 0.12), (0.4, 0.9)], [(0.35, 0.5), (0.7, 0.5)]],
    8: [[(0.5, 0.5), (0.25, 0.3), (0.5, 0.1), (0.75, 0.3), (0.5, 0.5), (0.2, 0.72), (0.5, 0.9), (0.8, 0.72),
         (0.5, 0.5)]],
    9: [[(0.75, 0.4), (0.5, 0.55), (0.25, 0.35), (0.5, 0.1), (0.75, 0.35), (0.7, 0.9)]],
}


def draw_digit(digit: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) in [0, 1]: the strokes, jittered a little by *rng*, drawn with a soft pen."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    img = np.zeros((size, size))
    pen = max(size / 14.0, 0.6)
    shift = rng.normal(0, 0.03, 2)
    for stroke in STROKES[digit]:
        pts = np.array(stroke) + shift + rng.normal(0, 0.02, (len(stroke), 2))
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
            for a in np.linspace(0, 1, max(int(size * 1.5), 8)):
                px, py = (x0 + a * (x1 - x0)) * size, (y0 + a * (y1 - y0)) * size
                img = np.maximum(img, np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * pen**2)))
    return np.round(img, 3)
