"""Traces family: `rnntui run`/`show` on an .npz that is not a trace rnntui can open (layout not JSON,
not a map, keys missing or of the wrong type, arrays missing, misshapen or not numbers) is one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnntui
from rnntui.errors import ScenarioError

from tests.hostile.common import invoke, refused

TRACE = rnntui.run("bilstm-apple")
ARRAYS = {k: np.asarray(TRACE[k]) for k in TRACE}  # as a save writes it: the derived diagnostics too
LAYOUT = json.loads(str(ARRAYS["meta.layout"]))


def _write(path, arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("layout,said", [
    ("{not json", "meta.layout: not JSON"),
    ("[1, 2]", "meta.layout: found list; expected a map"),
    ('{"name": "x"}', "the key 'entries' is missing"),
    ('{"entries": 3}', "meta.layout.entries: found int"),
])
@pytest.mark.parametrize("command", ["show", "run"])
def test_layouts_that_are_not_a_trace(tmp_path, layout, said, command):
    path = _write(tmp_path / "t.npz", dict(ARRAYS, **{"meta.layout": np.asarray(layout)}))
    lines = refused(invoke(command, str(path)))
    assert len(lines) == 1 and said in lines[0] and str(path) in lines[0]


def test_an_npz_that_is_no_trace(tmp_path):
    path = _write(tmp_path / "t.npz", {"a": np.zeros(3)})
    assert "no meta.layout" in refused(invoke("show", str(path)))[0]


def _mutations():
    entry_keys = sorted(LAYOUT["entries"][0])
    top_keys = sorted(k for k in LAYOUT if k != "entries")
    junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**30), st.text(max_size=4),
                     st.lists(st.integers(-1, 3), max_size=3), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
    return st.one_of(
        st.tuples(st.just("top"), st.sampled_from(top_keys), junk),
        st.tuples(st.just("entry"), st.sampled_from(entry_keys), junk),
        st.tuples(st.just("drop-entry-key"), st.sampled_from(entry_keys), st.none()),
        st.tuples(st.just("drop-array"), st.sampled_from(sorted(ARRAYS)), st.none()),
        st.tuples(st.just("reshape-array"), st.sampled_from(sorted(k for k in ARRAYS if ARRAYS[k].ndim)), st.none()),
        st.tuples(st.just("retype-array"), st.sampled_from(sorted(ARRAYS)),
                  st.sampled_from(["complex128", "datetime64[s]", "S3"])),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=_mutations())
def test_damaged_traces_open_or_are_refused_in_one_line(tmp_path_factory, change):
    how, key, value = change
    layout = json.loads(json.dumps(LAYOUT))
    arrays = dict(ARRAYS)
    if how == "top":
        layout[key] = value
    elif how == "entry":
        layout["entries"][0][key] = value
    elif how == "drop-entry-key":
        del layout["entries"][0][key]
    elif how == "drop-array":
        del arrays[key]
    elif how == "reshape-array":
        a = arrays[key]
        arrays[key] = a.reshape(-1)[:-1] if a.size > 1 else a.reshape(1, 1) if a.size else np.zeros((1, 1), a.dtype)
    else:
        arrays[key] = np.zeros(arrays[key].shape, dtype=value)
    arrays["meta.layout"] = np.asarray(json.dumps(layout)) if "meta.layout" in arrays else None
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = _write(tmp_path_factory.mktemp("trace") / "t.npz", arrays)
    try:
        trace = rnntui.load_trace(path)
    except ScenarioError as exc:
        assert len(exc.problems) == 1 and "\n" not in str(exc) and str(path) in str(exc)
        return
    # what opens must be readable where the views read it
    for e in trace.info.entries:
        trace[f"model.{e.index}.out"]


@pytest.mark.parametrize("lengths,said", [
    (np.array([0]), "meta.lengths: found [0]; expected whole numbers from 1 to T=9"),
    (np.array([10]), "meta.lengths: found [10]"),
    (np.array([1.5]), "meta.lengths: found [1.5]"),
    (np.array([3, 3]), "'meta.lengths' has shape (2,); expected (1,)"),
])
def test_sample_lengths_outside_the_run_are_refused(tmp_path, lengths, said):
    arrays = dict(ARRAYS, **{"meta.lengths": lengths})
    path = _write(tmp_path / "t.npz", arrays)
    assert said in refused(invoke("show", str(path)))[0]


def _bomb(path, declared: int, written: int) -> None:
    """A trace with one more member whose .npy header declares *declared* float64 values while only
    *written* bytes follow (zeros: they compress to almost nothing)."""
    import io
    import zipfile

    np.savez(path, **ARRAYS)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (declared,)})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        with z.open("bomb.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            f.write(bytes(written))


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(tmp_path):
    import tracemalloc

    path = tmp_path / "t.npz"
    _bomb(path, declared=10**8, written=1 << 22)  # 800 MB declared, 4 MiB inflated, a few KiB stored
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as info:
            rnntui.load_trace(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, f"reading the trace held {peak:,} bytes: the member was inflated"
    assert "bomb" in str(info.value) and "truncated or damaged" in str(info.value)
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and str(path) in lines[0]


def test_a_member_larger_than_the_memory_limit_is_refused(tmp_path):
    path = tmp_path / "t.npz"
    _bomb(path, declared=1 << 20, written=8 << 20)  # 8 MiB, all there
    lines = refused(invoke("show", str(path), "--max-memory", "4MB"))
    assert len(lines) == 1 and "memory limit" in lines[0] and "bomb" in lines[0]
    assert "bomb" in rnntui.load_trace(path, max_memory=64 << 20)  # it opens with room for it


@pytest.mark.parametrize("view", ["chart", "", "Recurrent", "map "])
def test_an_unknown_view_kind_is_refused(tmp_path, view):
    layout = json.loads(json.dumps(LAYOUT))
    layout["entries"][-1]["view"] = view
    path = _write(tmp_path / "t.npz", dict(ARRAYS, **{"meta.layout": np.asarray(json.dumps(layout))}))
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and "view" in lines[0] and "recurrent, map, plain, embedding or steps" in lines[0]


def test_a_recurrent_view_on_an_entry_that_is_not_recurrent_is_refused(tmp_path):
    layout = json.loads(json.dumps(LAYOUT))
    dense = next(e for e in layout["entries"] if not e["recurrent"])
    dense["view"] = "recurrent"
    path = _write(tmp_path / "t.npz", dict(ARRAYS, **{"meta.layout": np.asarray(json.dumps(layout))}))
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and "view" in lines[0]


def test_the_engine_knows_every_view_the_renderer_has():
    from rnntui.engine.layout import VIEW_KINDS
    from rnntui.render.views import VIEWS

    assert set(VIEWS) == set(VIEW_KINDS)


@pytest.mark.parametrize("key", sorted(k for k in ARRAYS if k.startswith("diag.")))
def test_a_missing_diagnostic_is_one_line(tmp_path, key):
    """Every diagnostic a view or report reads (was: KeyError in show, export and at the TUI's start)."""
    path = _write(tmp_path / "t.npz", {k: v for k, v in ARRAYS.items() if k != key})
    for command in (["show", str(path)], ["export", str(path), "-o", str(tmp_path / "r.txt")]):
        lines = refused(invoke(*command))
        assert len(lines) == 1 and f"the array {key!r} is missing" in lines[0], lines
    assert not (tmp_path / "r.txt").exists()


def test_a_deferred_jacobian_need_not_be_saved(tmp_path):
    key = "diag.model.0.l0.fwd.jacnorm"
    arrays = {k: v for k, v in ARRAYS.items() if k != key}
    arrays["meta.not_computed"] = np.asarray([key])
    trace = rnntui.load_trace(_write(tmp_path / "t.npz", arrays))
    np.testing.assert_allclose(trace[key], TRACE[key], rtol=1e-12)


@pytest.mark.parametrize("kind", ["foo", "LSTM", "transformer"])
def test_an_unknown_entry_type_is_one_line(tmp_path, kind):
    layout = json.loads(json.dumps(LAYOUT))
    layout["entries"][0]["type"] = kind
    path = _write(tmp_path / "t.npz", dict(ARRAYS, **{"meta.layout": np.asarray(json.dumps(layout))}))
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and "entries[0].type" in lines[0] and "expected an entry type" in lines[0], lines


def test_an_entry_whose_recurrent_flag_lies_is_one_line(tmp_path):
    layout = json.loads(json.dumps(LAYOUT))
    dense = next(e for e in layout["entries"] if not e["recurrent"])
    dense["type"] = "lstm"
    path = _write(tmp_path / "t.npz", dict(ARRAYS, **{"meta.layout": np.asarray(json.dumps(layout))}))
    lines = refused(invoke("show", str(path)))
    assert len(lines) == 1 and ".recurrent: found false for a lstm entry" in lines[0], lines


def test_a_trace_saved_before_per_sample_terms_opens(tmp_path):
    """term_gradnorm (T,) and term_step () as traces saved before they were per sample hold them."""
    arrays = dict(ARRAYS)
    for key in [k for k in arrays if k.endswith(".term_gradnorm")]:
        arrays[key] = arrays[key][:, 0]
        step = key.replace("term_gradnorm", "term_step")
        arrays[step] = np.asarray(arrays[step][0])
    trace = rnntui.load_trace(_write(tmp_path / "t.npz", arrays))
    assert trace["diag.model.0.l0.fwd.term_gradnorm"].shape == (LAYOUT["entries"][0]["steps"],)
    mixed = dict(arrays, **{"diag.model.0.l0.fwd.term_step": np.asarray([0])})
    lines = refused(invoke("show", str(_write(tmp_path / "m.npz", mixed))))
    assert len(lines) == 1 and "'diag.model.0.l0.fwd.term_step' has shape (1,)" in lines[0], lines
