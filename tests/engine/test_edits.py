"""Weight edits (engine/edits.py): the recomputed run against torch autograd on the edited parameters, and
the index forms checked against the parameter's shape."""
from __future__ import annotations

import numpy as np
import pytest

from rnntui.engine.edits import EditError, WeightEdit, parse_index, reweighted
from tests.torch_ref import manual


@pytest.mark.parametrize("name, edit", [
    ("vanishing-gradient", WeightEdit("0.weight_hh_l0", None, "=", 1.5)),
    ("lstm-delayed-recall", WeightEdit("0.weight_hh_l0", "0:6, 2", "*=", -3.0)),
    ("cnn-digit", WeightEdit("0.weight", "1, 0, 1, 1", "+=", 0.25)),
])
def test_a_reweighted_run_is_the_run_of_the_edited_parameters(traces, name, edit):
    original = traces[name]
    new = reweighted(original, [edit])
    before, after = np.asarray(original[f"param.{edit.param}"]), np.asarray(new[f"param.{edit.param}"])
    changed = np.argwhere(before != after)
    assert len(changed) > 0
    values, grads = manual(new)     # torch on the edited parameters
    for key, value in {**values, **grads}.items():
        scale = max(float(np.abs(value).max()), 1e-300)
        np.testing.assert_allclose(new[key], value, rtol=0, atol=1e-12 * scale, err_msg=key)
    assert not np.array_equal(new["loss"], original["loss"])


def test_index_forms_are_checked_against_the_shape():
    assert parse_index("0:4, 1", (24, 6)) == (slice(0, 4), 1)
    assert parse_index(":, -1", (24, 6)) == (slice(0, 24), -1)
    with pytest.raises(ValueError, match="found index 6 on axis 1 of size 6"):
        parse_index("0, 6", (24, 6))
    with pytest.raises(ValueError, match="3 indices; the parameter has 2 axes"):
        parse_index("0, 0, 0", (24, 6))
    with pytest.raises(ValueError, match="no element"):
        parse_index("5:5", (24, 6))
    with pytest.raises(ValueError, match="expected a whole number"):
        parse_index("a", (24,))


def test_an_edit_of_a_parameter_the_model_lacks_is_refused(traces):
    with pytest.raises(EditError, match="this model's parameters are"):
        reweighted(traces["vanishing-gradient"], [WeightEdit("7.weight", None, "=", 1.0)])
    with pytest.raises(EditError, match="encoder-decoder"):
        reweighted(traces["seq2seq-reverse"], [WeightEdit("0.weight_hh_l0", None, "=", 1.0)])


def test_a_chosen_backprop_applies_to_the_what_if_and_its_original_alike(traces):
    from rnntui.engine.attribution import Seed, backprop, seed_of
    from rnntui.engine.edits import Change, apply_changes

    original = traces["bilstm-apple"]
    seed = Seed("logp", t=2, sample=0, unit=1)
    edit = WeightEdit("0.weight_hh_l0", None, "*=", 0.5)
    run, other = apply_changes(original, (Change("weight", edit),), seed)
    assert seed_of(run) == seed and seed_of(other) == seed
    np.testing.assert_array_equal(other["grad.input"], backprop(original, seed)["grad.input"])
    np.testing.assert_array_equal(run["grad.input"], backprop(reweighted(original, [edit]), seed)["grad.input"])
    run, other = apply_changes(original, (), None)
    assert run is original and other is None
