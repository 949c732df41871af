"""The token read at each step, with its id, on the screen: the header names the current one, the
timeline's id row lists them, the embedding's view names the row it looked up; for a batch of texts,
the current sample's tokens."""
from __future__ import annotations

import json

import rnntui
from rnntui.tui.app import RnntuiApp
from tests.tui.screen import screen_lines

SIZE = (100, 30)


async def test_the_token_and_its_id_show_at_each_step(traces):
    app = RnntuiApp(traces["char-embedding"])  # "hello, apple pie"; h=5 e=4 l=7
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right")
        lines = screen_lines(app)
        assert "(t=2: l #7)" in lines[1], lines[1]
        ids = next(ln for ln in lines if ln.lstrip().startswith("id "))
        assert ids.split()[1:5] == ["#5", "#4", "#7", "#7"]
        assert any("model.0 embedding · t=2 · sample 0 · l #7 → 0.weight[7]" in ln for ln in lines)
        await pilot.press("right", "right", "right")  # the comma, read as <unk> (id 1)
        assert "(t=5: , #1)" in screen_lines(app)[1]


async def test_a_batch_of_texts_shows_the_current_samples_tokens(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"input": {"text": ["the cat sat", "a dog ran"], "vocab": [
        "the", "cat", "sat", "a", "dog", "ran"]}, "model": [
        {"type": "embedding", "num_embeddings": 6, "embedding_dim": 2}, {"type": "rnn", "hidden_size": 2}]}))
    app = RnntuiApp(rnntui.run(path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right")
        assert "(t=1: cat #1)" in screen_lines(app)[1]
        await pilot.press("s")  # the next sample
        lines = screen_lines(app)
        assert "(t=1: dog #4)" in lines[1]
        assert next(ln for ln in lines if ln.lstrip().startswith("input")).split()[1:] == ["a", "dog", "ran"]


async def test_a_space_token_is_drawn_as_a_visible_sign(tmp_path):
    """A character model's space is a token like any other: the header, the timeline and the predicted class
    show it as ␣, never as a gap."""
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"input": {"text": "a b", "tokenize": "chars"}, "model": [
        {"type": "gru", "hidden_size": 2}, {"type": "dense", "units": 3}],
        "loss": {"kind": "cross_entropy", "target": [0, 1, 0]}}))
    trace = rnntui.run(path)
    assert list(trace["meta.vocab"]) == [" ", "a", "b"]  # the sorted characters: the space is class 0
    app = RnntuiApp(trace)
    async with app.run_test(size=SIZE) as pilot:
        assert "target ␣" in screen_lines(app)[0]  # t=0 should predict the space
        await pilot.press("right")
        lines = screen_lines(app)
        assert "(t=1: ␣ #0)" in lines[1], lines[1]
        assert next(ln for ln in lines if ln.lstrip().startswith("input")).split()[1:4] == ["a", "␣", "b"]
    from rnntui.render.prediction import labels
    assert labels(trace, 3) == ["␣", "a", "b"]
