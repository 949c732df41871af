"""`rnntui.record`: iterations of the user's own training loop (minibatches, a scheduler, weight decay)
recorded into a folder, which opens as a training run: each record's loss, gradients and update are what
that loop computed and did (PyTorch's own numbers, float64)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rnntui
from rnntui.cli import app


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(3, 5)
        self.fc = torch.nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[-1])


def _loop(tmp_path, form: str):
    torch.manual_seed(0)
    model = Tagger().double()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    g = torch.Generator().manual_seed(1)
    seen = {}
    for step in range(6):
        x = torch.randn(7, 4, 3, generator=g, dtype=torch.float64)      # (T, B, F): a new minibatch each step
        y = torch.randint(0, 2, (4,), generator=g)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        lr = opt.param_groups[0]["lr"]
        if form == "with":
            rec = rnntui.record(model, x, target=y, loss="cross_entropy", step=step, to=tmp_path / "run", every=2)
            with rec if rec is not None else _nothing():
                loss = _train_step(model, opt, x, y)
        else:
            rnntui.record(model, x, target=y, loss="cross_entropy", step=step, to=tmp_path / "run", every=2,
                          optimizer=opt)
            loss = _train_step(model, opt, x, y, keep_grads=seen.setdefault(step, {}))
        sched.step()
        seen.setdefault(step, {}).update(loss=loss, lr=lr, before=before,
                                         after={n: p.detach().clone() for n, p in model.named_parameters()})
    return seen


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _train_step(model, opt, x, y, keep_grads=None):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    if keep_grads is not None:
        keep_grads["grads"] = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    opt.step()
    return float(loss)


NAMES = {"rnn.weight_hh_l0": "0.weight_hh_l0", "rnn.weight_ih_l0": "0.weight_ih_l0", "fc.weight": "1.weight"}


@pytest.mark.parametrize("form", ["with", "optimizer"])
def test_recorded_iterations_are_the_loops_own(tmp_path, form):
    seen = _loop(tmp_path, form)
    run = rnntui.load_trace(tmp_path / "run")
    assert run.iterations == 3
    np.testing.assert_array_equal(run["train.step"], [0, 2, 4])
    for k, step in enumerate((0, 2, 4)):
        s = seen[step]
        assert abs(run["train.loss"][k] - s["loss"]) <= 1e-12
        for tname, name in NAMES.items():
            moved = (s["after"][tname] - s["before"][tname]).norm().item()
            ratio = moved / s["before"][tname].norm().item()
            assert run[f"train.update_ratio.{name}"][k] == pytest.approx(ratio, rel=1e-12), (name, step)
    if form == "optimizer":   # the optimizer's own learning rate, as the scheduler set it
        np.testing.assert_allclose(run["train.lr"], [seen[s]["lr"] for s in (0, 2, 4)], rtol=0, atol=0)
        it = run.iteration(1)
        for tname, name in NAMES.items():
            np.testing.assert_allclose(it[f"grad.param.{name}"], seen[2]["grads"][tname].numpy(), rtol=1e-10,
                                       atol=1e-13, err_msg=name)
    else:
        assert "train.lr" not in run


def test_a_recorded_folder_shows_as_a_training_run(tmp_path):
    _loop(tmp_path, "with")
    result = CliRunner().invoke(app, ["show", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "iteration" in result.output and "loss" in result.output
    # the API opens the folder as the CLI does (it was read as a scenario file)
    np.testing.assert_array_equal(rnntui.run(tmp_path / "run")["train.loss"],
                                  rnntui.load_trace(tmp_path / "run")["train.loss"])


def test_record_refuses_what_it_cannot_use(tmp_path):
    model = Tagger().double()
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    with pytest.raises(rnntui.RnntuiError, match="step"):
        rnntui.record(model, x, step=-1, to=tmp_path / "r")
    (tmp_path / "file").write_text("x")
    with pytest.raises(rnntui.RnntuiError, match="not a folder"):
        rnntui.record(model, x, step=0, to=tmp_path / "file")
    with pytest.raises(rnntui.ScenarioError, match="cannot read this trace"):
        rnntui.load_trace(tmp_path)   # a folder without records is no trace


async def test_the_debugger_steps_through_the_recorded_iterations(tmp_path):
    from rnntui.tui.app import RnntuiApp
    from tests.tui.screen import screen_text

    _loop(tmp_path, "with")
    run = rnntui.load_trace(tmp_path / "run")
    app = RnntuiApp(run)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.iteration == 2
        assert "iteration 2 of 0..2 (step 4 of your loop)" in screen_text(app)
        await pilot.press("comma")
        assert app.iteration == 1
        assert "iteration 1 of 0..2 (step 2 of your loop)" in screen_text(app)
        np.testing.assert_array_equal(app.run_state.trace["loss"], run.iteration(1)["loss"])


def test_from_torch_writes_a_train_section_that_replays_the_torch_loop():
    torch.manual_seed(3)
    model = Tagger().double()
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0])
    train = {"iterations": 6, "optimizer": {"kind": "sgd", "lr": 0.3, "momentum": 0.5},
             "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5}}
    trace = rnntui.from_torch(model, x, target=y, loss="cross_entropy", train=train)
    assert "train:" in trace.scenario_yaml()
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    losses = []
    for _ in range(6):
        losses.append(_train_step(model, opt, x, y))
        sched.step()
    np.testing.assert_allclose(trace["train.loss"], losses, rtol=1e-12)
    for tname, name in NAMES.items():
        np.testing.assert_allclose(trace[f"train.final.param.{name}"], dict(model.named_parameters())[tname]
                                   .detach().numpy(), rtol=1e-11, atol=1e-13)
    with pytest.raises(rnntui.RnntuiError, match="train.optimizer.kind"):
        rnntui.from_torch(model, x, target=y, loss="cross_entropy", train={"iterations": 2, "optimizer": {"kind": "sgdd"}})


def _recorded_without_updates(folder):
    """Three SGD steps of a Tagger recorded without `with` and without `optimizer=`: no update is seen."""
    torch.manual_seed(0)
    model = Tagger().double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0])
    for step in range(3):
        rnntui.record(model, x, target=y, loss="cross_entropy", step=step, to=folder)
        _train_step(model, opt, x, y)
    return rnntui.load_trace(folder)


def test_a_recorded_folder_without_updates_does_not_claim_there_were_no_big_updates(tmp_path):
    """Recorded without `with` and without `optimizer=`, the folder holds no update (every ratio nan) and
    never the loop's clipping: "no events" may name only the kinds its arrays can show."""
    run = _recorded_without_updates(tmp_path / "run")
    assert np.isnan(run["train.update_ratio.0.weight_hh_l0"]).all() and "train.clipped" not in run
    result = CliRunner().invoke(app, ["show", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    text = result.output[result.output.index("No events over iterations"):]
    line = " ".join(text[:text.index("Iteration ")].split())     # the sentence, unwrapped
    looked = line.split("(", 1)[1].split(")", 1)[0]
    assert "big updates" not in looked and "clipping" not in looked, line
    assert "Not recorded, so not looked for: clipping, big updates." in line


def test_a_recorded_folder_without_updates_shows_no_nan_ratios(tmp_path):
    """The same folder's per-parameter table printed 'nan' as each update/parameter ratio, and the training
    pane 'update/‖p‖ at 2: 0.weight_hh_l0 nan · ...', as if the updates had stopped being finite: they were
    not recorded (the gradients were, and are shown)."""
    from rnntui.render.training_cause import parameter_line

    run = _recorded_without_updates(tmp_path / "run")
    assert np.isnan(run["train.update_ratio.1.weight"]).all() and np.isfinite(run["train.gradnorm.param.1.weight"]).all()
    result = CliRunner().invoke(app, ["show", str(tmp_path / "run")])
    table = result.output[result.output.index("Per parameter"):result.output.index("No events")]
    assert "nan" not in table and "the updates were not recorded (-)" in " ".join(table.split())
    line = parameter_line(run, 2, 200).plain
    assert "nan" not in line and "not recorded" in line
    at = result.output.index("Training setup")
    setup = " ".join(result.output[at:result.output.index("iterations", at)].split())
    assert "optimizer your own loop's (its updates not recorded)" in setup and "(recorded updates)" not in setup
