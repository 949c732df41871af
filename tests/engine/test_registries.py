"""The registries: every entry type has a handler and every recurrent family a Family; an unknown
name is an error, never another type's code; each family's declarations match what it records."""
import textwrap

import numpy as np
import pytest

import rnntui
from rnntui.engine.entries import HANDLERS, UnknownEntryType, handler
from rnntui.engine.families import FAMILIES, family
from rnntui.errors import ScenarioError
from rnntui.scenario.entry_models import model_for


def test_unknown_entry_type_is_an_error():
    with pytest.raises(UnknownEntryType):
        handler("lstmm")
    with pytest.raises(KeyError):
        family("dense")


def test_every_handler_declares_its_keys():
    for name, h in HANDLERS.items():
        model = model_for(name)
        assert set(model.model_fields) == {"type"} | set(h.Config.__dataclass_fields__), name


@pytest.mark.parametrize("value", [True, "3", 3.0, None])
def test_sizes_are_whole_numbers_not_booleans_or_strings(tmp_path, value):
    p = tmp_path / "s.yaml"
    p.write_text(f"input: {{values: [[1], [2]]}}\nmodel: [{{type: gru, hidden_size: {value!r}}}]\n".replace("'", '"'))
    with pytest.raises(ScenarioError, match="hidden_size"):
        rnntui.run(p)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_declarations_match_its_record(tmp_path, name):
    fam = FAMILIES[name]
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(f"""\
        input: {{generate: {{kind: noise, length: 5, features: 2}}}}
        model: [{{type: {name}, hidden_size: 3, num_layers: 2, bidirectional: true}}]
        """))
    trace = rnntui.run(p)
    e = trace.info.entries[0]
    assert e.family is fam and e.gates == fam.gates
    for place in trace.info.places:
        for g in fam.gates:
            assert trace[place.key(f"gates.{g}")].shape == (5, 1, 3)
        for s in fam.states:
            assert trace[place.key(s)].shape == (5, 1, 3)
            assert trace[place.grad_key(s)].shape == (5, 1, 3)
        assert trace[f"param.{place.param('weight_hh')}"].shape == (fam.n_blocks * 3, 3)
        for label, key, _ in fam.forward_rows(e):
            assert trace[place.key(key)].shape[0] == 5, label
        for key in fam.saturation(e).values():
            assert place.key(key) in trace
        sat = trace[place.diag_key(f"sat.{next(iter(fam.saturation(e)))}")] if fam.saturation(e) else None
        if sat is not None:
            assert sat.shape == (5,) and np.all((0 <= sat) & (sat <= 1))
    assert fam.equations(e) and fam.describe(e).startswith("hidden 3, layers 2, bidirectional")
