"""`rnntui scaffold`: a scenario written from a state_dict's names and shapes runs as it stands, with
the module's own numbers; a state_dict it cannot map is a clear error naming the keys, exit 2."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app

torch = pytest.importorskip("torch")


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 6)
        self.rnn = torch.nn.LSTM(6, 5, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(10, 3)

    def forward(self, ids):
        out, _ = self.rnn(self.emb(ids))
        return self.fc(out)


def _scaffold(tmp_path, weights, name="s.yaml"):
    out = tmp_path / name
    result = CliRunner().invoke(app, ["scaffold", str(weights), "-o", str(out)])
    return result, out


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".npz"])
def test_a_scaffolded_scenario_runs_the_modules_own_numbers(tmp_path, suffix):
    torch.manual_seed(0)
    m = Tagger().double()
    weights = tmp_path / f"m{suffix}"
    state = {k: v.numpy() for k, v in m.state_dict().items()}
    if suffix == ".pt":
        torch.save(m.state_dict(), weights)
    elif suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file(state, str(weights))
    else:
        np.savez(weights, **state)
    result, out = _scaffold(tmp_path, weights)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "type: embedding" in text and "type: lstm, hidden_size: 5, num_layers: 2, bidirectional: true" in text
    assert '"rnn.": "1."' in text and "mode: many-to-many" in text and "the weights cannot tell" in text
    trace = rnntui.run(out)
    ids = torch.tensor(trace["input"][..., 0], dtype=torch.long)
    with torch.no_grad():
        expected = m(ids).numpy()
    np.testing.assert_allclose(trace["output"], expected, rtol=1e-9, atol=1e-12)


def test_a_gru_and_a_bare_rnn_are_read_from_their_shapes(tmp_path):
    gru = torch.nn.GRU(4, 7)
    rnn = torch.nn.RNN(7, 3)
    state = {f"enc.{k}": v.detach().numpy() for k, v in gru.state_dict().items()}
    state.update({f"head.{k}": v.detach().numpy() for k, v in rnn.state_dict().items()})
    np.savez(tmp_path / "w.npz", **state)
    result, out = _scaffold(tmp_path, tmp_path / "w.npz")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "{type: gru, hidden_size: 7}" in text and "{type: rnn, hidden_size: 3}" in text
    assert "nonlinearity: tanh unless" in text and "features: 4" in text
    assert rnntui.run(out)["output"].shape[-1] == 3


@pytest.mark.parametrize("state,said", [
    ({"bn.weight": np.ones(3), "bn.bias": np.zeros(3), "bn.running_mean": np.zeros(3)},
     "bn.: found bias, running_mean, weight; expected a recurrent module"),
    ({"rnn.weight_ih_l0": np.zeros((10, 4)), "rnn.weight_hh_l0": np.zeros((5, 5))},
     "expected 1, 3 or 4 blocks of 5 rows"),
    ({"x.weight": np.zeros((2, 2, 2, 2, 2))}, "found shape (2, 2, 2, 2, 2); expected 2-D"),
])
def test_a_state_dict_that_maps_to_no_entry_is_refused_naming_the_keys(tmp_path, state, said):
    np.savez(tmp_path / "w.npz", **state)
    result, out = _scaffold(tmp_path, tmp_path / "w.npz")
    assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output
    assert not out.exists()
