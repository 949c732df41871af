"""`rnntui scan` over a data set: each row is the numbers of that sample's own run (`rnntui run --sample k`,
bit for bit) and PyTorch's for that sample; the ranking puts the samples whose gradient goes furthest from
healthy first, and the top one opened alone shows what its row says; workers and interruption change
nothing of what is kept."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app
from rnntui.samples import scan
from rnntui.samples.measure import first_recurrent_place
from rnntui.scenario.bundled import bundled

NAME = "scan-gradient-health"


@pytest.fixture(scope="module")
def result():
    return scan(str(bundled()[NAME]), limit=48)


def test_each_row_is_its_samples_own_run(result):
    from rnntui.engine.diagnostics import row_norms

    for k in (0, 7, 31):
        own = rnntui.run(NAME, sample=k)
        row = result.rows[k]
        assert row["sample"] == k and row["loss"] == float(own["loss"])
        place = first_recurrent_place(own.info)
        n = int(own["meta.lengths"][0])
        g = row_norms(own[place.grad_key("h")][:n, 0])
        assert row["max_gradnorm"] == float(g.max()) and row["max_gradnorm_step"] == int(np.argmax(g))
        assert row["length"] == n


def test_rows_agree_with_torch_on_each_sample(result):
    """The sample alone through nn.RNN + nn.Linear with the same weights: its loss and ‖dL/dh_t‖ per step."""
    data = np.load(bundled()[NAME].parent / "gradient-health.npz")
    trace = rnntui.run(NAME)
    P = {k[len("param."):]: torch.tensor(np.asarray(trace[k]), requires_grad=True) for k in trace if k.startswith("param.")}
    for k in (3, 12):
        n = int(data["lengths"][k])
        x = torch.tensor(data["x"][k, :n]).reshape(n, 1, 1)
        h = torch.zeros(1, 8, dtype=torch.float64)
        hs = []
        for t in range(n):
            h = torch.tanh(x[t] @ P["0.weight_ih_l0"].T + P["0.bias_ih_l0"] + h @ P["0.weight_hh_l0"].T + P["0.bias_hh_l0"])
            h.retain_grad()
            hs.append(h)
        logits = hs[-1] @ P["1.weight"].T + P["1.bias"]
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([int(data["target"][k])]))
        loss.backward()
        row = result.rows[k]
        assert abs(row["loss"] - float(loss)) <= 1e-12
        norms = np.array([float(v.grad.norm()) for v in hs])
        assert math.isclose(row["max_gradnorm"], norms.max(), rel_tol=1e-10)
        assert math.isclose(row["min_gradnorm"], norms.min(), rel_tol=1e-10)
        expected_rate = (norms[0] / norms[-1]) ** (1 / (n - 1))
        assert math.isclose(row["rate"], expected_rate, rel_tol=1e-9)


def test_the_ranking_finds_the_loud_and_quiet_samples(result):
    """The data set's samples are of two kinds the scan is not told: loud ones saturate tanh (their gradient
    vanishes), quiet ones stay linear under W_hh's gain of 1.25 (theirs grows). The verdicts split by kind."""
    kind = np.load(bundled()[NAME].parent / "gradient-health.npz")["kind"]
    for row in result.rows:
        k = row["sample"]
        if row["verdict"] == "vanishing":
            assert kind[k] == 1, k
        if row["verdict"] == "exploding":
            assert kind[k] == 0, k
    ranked = result.ranked()
    rates = [abs(math.log(r["rate"])) for r in ranked]
    assert rates == sorted(rates, reverse=True)
    top = ranked[0]
    opened = rnntui.run(NAME, sample=top["sample"])
    from rnntui.render.analysis import verdicts

    v = verdicts(opened, first_recurrent_place(opened.info)).of(0)
    assert v.kind == top["verdict"] and v.factor == top["rate"]


def test_workers_and_an_interruption_keep_the_same_rows(result):
    two = scan(str(bundled()[NAME]), workers=2, limit=48)
    assert two.rows == result.rows

    def stop(done, total):
        if done >= 32:
            raise KeyboardInterrupt

    part = scan(str(bundled()[NAME]), progress=stop, limit=48)
    assert not part.complete and part.rows == result.rows[:len(part.rows)] and len(part.rows) == 32


def test_the_cli_writes_csv_npz_and_html(tmp_path):
    runner = CliRunner()
    for suffix in (".csv", ".npz", ".html"):
        out = tmp_path / f"scan{suffix}"
        res = runner.invoke(app, ["scan", NAME, "-o", str(out), "--top", "3"])
        assert res.exit_code == 0, res.output
        assert "200 of 200 samples" in res.output
    z = np.load(tmp_path / "scan.npz")
    assert z["sample"].tolist() == list(range(200)) and z["verdict"].dtype.kind == "U"
    assert (tmp_path / "scan.csv").read_text().splitlines()[0].startswith("sample,length,loss")
    assert "<table id=rows>" in (tmp_path / "scan.html").read_text()


def test_the_cli_refuses_what_it_cannot_scan(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["scan", "bptt"])
    assert res.exit_code == 2 and "expected input: {dataset: data.npz}" in res.output
    res = runner.invoke(app, ["scan", NAME, "-o", str(tmp_path / "x.txt")])
    assert res.exit_code == 2 and "expected .csv, .npz or .html" in res.output


def test_check_across_samples_is_check_at_each_sample():
    from rnntui.samples.check import check_dataset

    expr = "norm(dh) > 1e-4"
    result = check_dataset(str(bundled()[NAME]), [expr])
    assert len(result.rows) == 200
    for k in (0, 13, 14, 50, 101):
        alone = rnntui.check(rnntui.run(NAME, sample=k), expr)
        assert alone.ok == result.rows[k]["ok"], k
    assert [r["sample"] for r in result.failing] == [r["sample"] for r in result.rows if not r["ok"]]
    res = CliRunner().invoke(app, ["check", NAME, "--all-samples", "--assert", expr, "--json"])
    assert res.exit_code == 1
    assert json.loads(res.output)["failing_samples"] == [r["sample"] for r in result.failing]


def test_padded_steps_are_not_checked():
    """Sample 0 of the data set is shorter than its padded 40 steps: dL/dh is zero at the padding, which no
    sample computed; the check counts the real steps only."""
    trace = rnntui.run(NAME, sample=0)
    n = int(trace["meta.lengths"][0])
    assert n < 40
    (place,) = rnntui.check(trace, "norm(dh) > 0").assertions[0].places
    assert place.steps == n and place.failing == 0


def test_a_torch_dataloader_scans_as_the_data_set_file(result):
    """The same samples through a torch DataLoader (batches of 5, tensors): the same rows."""
    data = np.load(bundled()[NAME].parent / "gradient-health.npz")
    tensors = torch.utils.data.TensorDataset(torch.tensor(data["x"][:20]), torch.tensor(data["target"][:20]),
                                             torch.tensor(data["lengths"][:20]))
    loader = torch.utils.data.DataLoader(tensors, batch_size=5)
    got = rnntui.scan(NAME, loader)
    assert len(got.rows) == 20
    for a, b in zip(got.rows, result.rows[:20]):
        assert a == b


def test_a_dask_cluster_gives_the_same_table(result):
    """Two Dask workers (separate processes) on this machine take the chunks: the same rows."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        got = scan(str(bundled()[NAME]), limit=48, scheduler=cluster.scheduler_address)
    assert got.rows == result.rows


def test_an_unreachable_scheduler_is_one_line():
    res = CliRunner().invoke(app, ["scan", NAME, "--scheduler", "tcp://127.0.0.1:9"])
    assert res.exit_code == 2 and "cannot connect" in res.output


def test_a_data_set_of_token_ids_read_by_an_embedding_scans(tmp_path):
    """(N, T) token ids with lengths, an embedding first: the scan ran into an AttributeError (it asked the
    layout for the embedding's configuration). Each row is that sample's own run, whose loss PyTorch agrees with."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(6, 9))
    lengths = np.array([9, 4, 7, 3, 9, 5])
    for i, n in enumerate(lengths):
        ids[i, n:] = 0
    np.savez(tmp_path / "tok.npz", x=ids, lengths=lengths, target=rng.integers(0, 2, size=6))
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nmode: many-to-one\nseed: 0\ninput: {dataset: tok.npz}\n"
                    "model:\n  - {type: embedding, num_embeddings: 20, embedding_dim: 3}\n"
                    "  - {type: gru, hidden_size: 4}\n  - {type: dense, units: 2}\n"
                    "weights: {init: pytorch}\nloss: {kind: cross_entropy}\n")
    rows = scan(str(path)).rows
    assert [r["sample"] for r in rows] == list(range(6)) and [r["length"] for r in rows] == lengths.tolist()
    p = {k[len("param."):]: torch.from_numpy(np.asarray(v)) for k, v in rnntui.run(path).items()
         if k.startswith("param.")}
    emb, gru, fc = torch.nn.Embedding(20, 3).double(), torch.nn.GRU(3, 4).double(), torch.nn.Linear(4, 2).double()
    with torch.no_grad():
        emb.weight.copy_(p["0.weight"])
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(gru, name).copy_(p[f"1.{name}"])
        fc.weight.copy_(p["2.weight"]), fc.bias.copy_(p["2.bias"])
        data = np.load(tmp_path / "tok.npz")
        for k in (1, 3, 4):
            x = emb(torch.from_numpy(data["x"][k, :lengths[k]])[:, None])
            _, h = gru(x)
            want = torch.nn.functional.cross_entropy(fc(h[-1]), torch.tensor([int(data["target"][k])]))
            assert abs(rows[k]["loss"] - float(want)) <= 1e-12, k
            assert rows[k]["loss"] == float(rnntui.run(path, sample=k)["loss"])


async def test_the_header_names_the_data_sample_shown():
    """`--sample 118` opens sample 118 of the data set; a training minibatch's samples are some of the
    scenario's: the header says which (the trial found "sample 0 of 1" with 118 nowhere)."""
    from rnntui.tui.app import RnntuiApp
    from tests.tui.screen import screen_text

    trace = rnntui.run(NAME, sample=118)
    assert trace["meta.sample_ids"].tolist() == [118] and int(trace["meta.samples_total"]) == 200
    app = RnntuiApp(trace)
    async with app.run_test(size=(120, 30)):
        assert "sample 0 of 1 (no. 118 of 200 in the data)" in screen_text(app)


def test_a_minibatch_iteration_records_which_samples_it_read(tmp_path):
    rng = np.random.default_rng(1)
    doc = {"version": 1, "mode": "many-to-one", "input": {"batch": rng.normal(size=(7, 4, 2)).round(3).tolist()},
           "model": [{"type": "gru", "hidden_size": 3}, {"type": "dense", "units": 2}],
           "loss": {"kind": "cross_entropy", "target": [0, 1, 1, 0, 1, 0, 0]},
           "train": {"iterations": 5, "batch_size": 3, "shuffle": True, "optimizer": {"kind": "sgd", "lr": 0.1}}}
    p = tmp_path / "mb.yaml"
    p.write_text(json.dumps(doc))
    t = rnntui.run(p)
    for k in range(5):
        want = [int(i) for i in t["train.batch"][k] if i >= 0]
        it = t.iteration(k)
        assert it["meta.sample_ids"].tolist() == want and int(it["meta.samples_total"]) == 7


def test_every_column_of_a_row_is_the_single_sample_runs_bit_for_bit(result):
    """A row (every column: loss, prediction, verdict, rate, ratio, the gradient norms and their steps, the
    saturation shares, the parameters' gradient norm) is that of `rnntui.run(NAME, sample=k)`, what `rnntui run
    NAME --sample k` opens, measured alone: the same numbers bit for bit, whichever chunk and process ran it."""
    from rnntui.samples.measure import measure

    for k in (0, 5, 33, 47):
        own = measure(rnntui.run(NAME, sample=k), k)
        row = result.rows[k]
        assert own.keys() == row.keys()
        for c, v in own.items():
            assert v == row[c] or (isinstance(v, float) and math.isnan(v) and math.isnan(row[c])), (k, c)
            assert type(v) is type(row[c]), (k, c)
