"""Array files family: .npy/.npz inputs and .npz/.pt weights that are not plain real numbers, or are
damaged, or inflate to more than memory, are refused in one line naming the file; nothing is unpickled.
The files are made at test time."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnntui.errors import ScenarioError
from rnntui.scenario import load_scenario

from tests.hostile.common import invoke, refused

INPUT = "input: {{file: {name}}}\nmodel: [{{type: rnn, hidden_size: 2}}]\n"
WEIGHTS = "input: {{values: [[1], [2]]}}\nmodel: [{{type: rnn, hidden_size: 1}}]\nweights: {{file: {name}}}\n"

BAD = {
    "complex": (np.array([[1 + 2j], [3 + 0j]]), "complex numbers"),
    "datetime": (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "dates"),
    "timedelta": (np.array([1, 2], dtype="timedelta64[s]"), "time spans"),
    "strings": (np.array(["1.5", "2"]), "text"),
    "bytes": (np.array([b"1", b"2"]), "bytes"),
    "structured": (np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "records"),
    "object": (np.array([{"x": 1}, None], dtype=object), "Python objects"),
}


def _save(target, arr):
    if isinstance(target, io.BytesIO):
        np.lib.format.write_array(target, arr, allow_pickle=True)
        return
    with open(target, "wb") as f:
        np.lib.format.write_array(f, arr, allow_pickle=True)


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("container", ["npy", "npz-input", "npz-weights"])
def test_arrays_that_are_not_real_numbers(tmp_path, kind, container):
    arr, said = BAD[kind]
    if container == "npy":
        _save(tmp_path / "x.npy", arr)
        text = INPUT.format(name="x.npy")
    else:
        buf = io.BytesIO()
        _save(buf, arr)
        with zipfile.ZipFile(tmp_path / "x.npz", "w") as z:
            z.writestr("0.weight_ih_l0.npy" if container == "npz-weights" else "a.npy", buf.getvalue())
        text = (WEIGHTS if container == "npz-weights" else INPUT).format(name="x.npz")
    (tmp_path / "s.yaml").write_text(text)
    lines = refused(invoke("validate", str(tmp_path / "s.yaml")))
    assert any(said in ln and "x.np" in ln for ln in lines), lines


def test_a_pickle_that_would_run_a_command_is_not_run(tmp_path):
    import os

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path}/ran",))

    arr = np.empty(1, dtype=object)
    arr[0] = Boom()
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as z:
        z.writestr("0.weight_ih_l0.npy", buf.getvalue())
    (tmp_path / "s.yaml").write_text(WEIGHTS.format(name="x.npz"))
    lines = refused(invoke("validate", str(tmp_path / "s.yaml")))
    assert any("Python objects" in ln for ln in lines) and not (tmp_path / "ran").exists()


def test_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    # a member that declares 1e12 float64 values compresses to a few kilobytes
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    with zipfile.ZipFile(tmp_path / "x.npz", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("a.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(64):  # 64 MiB of zeros written, a few hundred kilobytes stored
                f.write(zeros)
    (tmp_path / "s.yaml").write_text(INPUT.format(name="x.npz"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml", max_memory=1 << 26)
    assert "truncated or damaged" in str(info.value) or "memory limit" in str(info.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_npz_is_one_line_or_loads(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("npz")
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(12.0).reshape(6, 2))
    raw = bytearray(buf.getvalue())
    how = data.draw(st.sampled_from(["truncate", "flip", "zero"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        raw = raw[:at]
    elif how == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    else:
        raw[at:at + 8] = bytes(len(raw[at:at + 8]))
    (d / "x.npz").write_bytes(bytes(raw))
    (d / "s.yaml").write_text(INPUT.format(name="x.npz"))
    try:
        sc = load_scenario(d / "s.yaml", max_memory=1 << 26)
    except ScenarioError as exc:
        assert len(exc.problems) == 1 and "\n" not in str(exc)
    else:
        assert sc.x.dtype == np.float64


def test_pt_refused_by_weights_only_is_one_line(tmp_path):
    import torch

    from fractions import Fraction  # any class weights_only does not allow

    torch.save({"0.weight_ih_l0": Fraction(1, 3)}, tmp_path / "w.pt")
    (tmp_path / "s.yaml").write_text(WEIGHTS.format(name="w.pt"))
    lines = refused(invoke("validate", str(tmp_path / "s.yaml")))
    hits = [ln for ln in lines if "w.pt" in ln]
    assert hits and "never unpickled" in hits[0]
    assert len(lines) <= 3


def test_complex_pt_tensor_is_refused(tmp_path):
    import torch
    torch.save({"0.weight_ih_l0": torch.ones(1, 1, dtype=torch.complex64)}, tmp_path / "w.pt")
    (tmp_path / "s.yaml").write_text(WEIGHTS.format(name="w.pt"))
    lines = refused(invoke("validate", str(tmp_path / "s.yaml")))
    assert any("not real numbers" in ln for ln in lines)
