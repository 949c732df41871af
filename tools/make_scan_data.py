"""Write `rnntui/bundled/gradient-health.npz`, the data set of the bundled `scan-gradient-health` scenario.

Run by hand from the project's root (NumPy only; seeded, so it writes the same file every time):

    .venv/bin/python tools/make_scan_data.py

200 sequences of 1 feature, 6 to 40 steps long (padded to 40, with `lengths`). Each sample is one of two
kinds, drawn at random: a quiet one (values of about 0.02) or a loud one (values of about 3). The scenario's
tanh RNN has W_hh = 1.25 x an orthogonal matrix, so a quiet sample stays where tanh is nearly linear and its
gradient grows about 1.25x a step going back (it explodes over a long sequence), while a loud sample drives
the units into saturation, where tanh' is small, and its gradient vanishes. `rnntui scan` finds which is
which without being told; the kind is kept in the file as `kind` (0 quiet, 1 loud) for the tests.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "rnntui" / "bundled" / "gradient-health.npz"
N, T = 200, 40


def main() -> None:
    rng = np.random.default_rng(2026)
    lengths = rng.integers(6, T + 1, size=N)
    kind = rng.integers(0, 2, size=N)
    scale = np.where(kind == 1, 3.0, 0.02)
    x = rng.normal(size=(N, T, 1)) * scale[:, None, None]
    x *= np.arange(T)[None, :, None] < lengths[:, None, None]     # zeros past each sample's end
    target = rng.integers(0, 2, size=N)
    np.savez_compressed(OUT, x=x.round(5), lengths=lengths.astype(np.int64), target=target.astype(np.int64),
                        kind=kind.astype(np.int64))
    print(f"wrote {OUT.name} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
