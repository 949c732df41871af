"""Train the four "apple" scenarios' weights: `lstm-apple` and `rnn-apple` read one direction,
`bilstm-apple` and `brnn-apple` both. Writes `{name}.safetensors` beside each scenario.

Run by hand from the project's root (needs the test extra, which brings torch; four models of 1,500 Adam
steps each: minutes on 2 idle cores, 49 on a machine loaded 5 times over):

    .venv/bin/python tools/make_apple.py

The lecture's point (BRNN): in "I like apple. It is very healthy." only the second sentence tells the
fruit from the company. The task: tag every word of such sentences as other, fruit or company. Every
sentence is "<someone> [really] <likes> apple . <It> <is> [very] <adjective> .", and only the adjective
(after "apple") decides: healthy, sweet, ... make it the fruit, profitable, innovative, ... the
company. Every beginning occurs as often with a fruit ending as with a company ending, so nothing
before "apple" tells them apart: a model that reads left to right cannot know at "apple" and, trained,
gives both the same probability there; a bidirectional one reads the ending first in its backward
direction and can.

Each bidirectional model is its one-direction counterpart with a backward direction added: its
forward direction is a copy of the counterpart's, kept fixed while the backward direction and a new
output layer are trained. So `rnntui run bilstm-apple --compare lstm-apple` shows the two forward
directions equal at every step and the whole difference coming from the backward direction.

The modules are the ones rnntui's entries stand for, with the same parameter names, and the weights
are saved under rnntui's keys "{entry index}.{PyTorch name}":

    model.0  nn.LSTM(V, 8) / nn.RNN(V, 6)   (bidirectional in bilstm-apple, brnn-apple)   0.weight_ih_l0, ...
    model.1  nn.Linear(H or 2H, 3)          (brnn-apple sums its two directions: merge sum)   1.weight, 1.bias

The input is one-hot over VOCAB, which the scenarios read from `apple-vocab.txt` (written here too). The sentence the scenarios show, and its
company twin, are kept out of training, so the debugger shows the models on a sentence they never
saw. Seeded: the same torch build writes the same files.
"""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
BUNDLED = HERE.parent / "rnntui" / "bundled"

WHO = ["I", "We", "They", "You", "People"]
LIKES = ["like", "love", "hate", "know", "mention"]
IT = ["It", "This"]
IS = ["is", "was"]
FRUIT = ["healthy", "sweet", "juicy", "ripe", "fresh", "tasty"]
COMPANY = ["profitable", "innovative", "successful", "valuable", "powerful", "rich"]
VOCAB = (["<pad>", "apple", ".", "really", "very"] + WHO + LIKES + IT + IS + FRUIT + COMPANY)
CLASSES = ["other", "fruit", "company"]
OTHER, FRUIT_ID, COMPANY_ID = 0, 1, 2
SHOWN = "I like apple . It is very healthy ."
TWIN = "I like apple . It is very profitable ."   # held out with it, so "I like" stays even
V = len(VOCAB)
STEPS, BATCH, LR = 1500, 256, 1e-2


def sentences() -> list[tuple[list[str], int]]:
    """Every sentence of the grammar with the class of its "apple" (FRUIT_ID or COMPANY_ID)."""
    out = []
    for who, really, likes, it, is_, very in itertools.product(WHO, ["", "really"], LIKES, IT, IS, ["", "very"]):
        for adjectives, cls in ((FRUIT, FRUIT_ID), (COMPANY, COMPANY_ID)):
            for adj in adjectives:
                words = [who, really, likes, "apple", ".", it, is_, very, adj, "."]
                out.append(([w for w in words if w], cls))
    return out


def training_sentences() -> list[tuple[list[str], int]]:
    """Every sentence of the grammar but the one the scenarios show and its company twin."""
    return [s for s in sentences() if " ".join(s[0]) not in (SHOWN, TWIN)]


def encode(batch: list[tuple[list[str], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One-hot input (T, B, V) padded with zeros, target (T, B) (-100 past a sentence's end), lengths."""
    T = max(len(w) for w, _ in batch)
    x = torch.zeros(T, len(batch), V)
    y = torch.full((T, len(batch)), -100, dtype=torch.long)
    for b, (words, cls) in enumerate(batch):
        for t, w in enumerate(words):
            x[t, b, VOCAB.index(w)] = 1.0
            y[t, b] = cls if w == "apple" else OTHER
    return x, y, torch.tensor([len(w) for w, _ in batch])


class Tagger(torch.nn.Module):
    def __init__(self, cell: type, hidden: int, bidirectional: bool, merge_sum: bool = False):
        super().__init__()
        self.rnn = cell(V, hidden, bidirectional=bidirectional)
        self.merge_sum = merge_sum
        self.out = torch.nn.Linear(hidden * (2 if bidirectional and not merge_sum else 1), len(CLASSES))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        y, _ = self.rnn(packed)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
        if self.merge_sum:
            H = self.rnn.hidden_size
            y = y[..., :H] + y[..., H:]
        return self.out(y)

    def rnntui_state(self) -> dict[str, np.ndarray]:
        return {f"{i}.{name}": p.detach().cpu().numpy().astype(np.float32)
                for i, m in enumerate([self.rnn, self.out]) for name, p in m.named_parameters()}


def train(model: Tagger, data: list, rng: np.random.Generator, label: str) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / STEPS)
    for step in range(1, STEPS + 1):
        x, y, lengths = encode([data[i] for i in rng.choice(len(data), BATCH, replace=False)])
        loss = torch.nn.functional.cross_entropy(model(x, lengths).reshape(-1, len(CLASSES)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 500 == 0:
            print(f"{label:12s} step {step:5d}  loss {loss.item():.4f}")


def at_apple(model: Tagger, words: list[str]) -> list[float]:
    x, _, lengths = encode([(words, OTHER)])
    with torch.no_grad():
        p = model(x, lengths).softmax(-1)[words.index("apple"), 0]
    return [round(float(v), 3) for v in p]


def tagged_right(model: Tagger, data: list) -> float:
    x, y, lengths = encode(data)
    with torch.no_grad():
        pred = model(x, lengths).argmax(-1)
    real = y != -100
    return float((pred[real] == y[real]).float().mean())


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    data = training_sentences()
    fruit = sum(cls == FRUIT_ID for _, cls in data)
    print(f"{len(data)} sentences ({fruit} fruit, {len(data) - fruit} company), vocabulary of {V}")
    for cell, hidden, one, both, merge_sum in ((torch.nn.LSTM, 8, "lstm-apple", "bilstm-apple", False),
                                               (torch.nn.RNN, 6, "rnn-apple", "brnn-apple", True)):
        uni = Tagger(cell, hidden, bidirectional=False)
        train(uni, data, rng, one)
        bi = Tagger(cell, hidden, bidirectional=True, merge_sum=merge_sum)
        with torch.no_grad():  # the forward direction is the one-direction model's, and stays so
            for name, p in uni.rnn.named_parameters():
                getattr(bi.rnn, name).copy_(p)
                getattr(bi.rnn, name).requires_grad_(False)
        train(bi, data, rng, both)
        shown = SHOWN.split()
        for name, model in ((one, uni), (both, bi)):
            print(f"{name:12s} {tagged_right(model, data):.2%} of training words tagged right; "
                  f"at 'apple' of the shown sentence p(other, fruit, company) = {at_apple(model, shown)}, "
                  f"of its twin {at_apple(model, TWIN.split())}")
        p_uni, p_bi = at_apple(uni, shown), at_apple(bi, shown)
        if not (p_bi[FRUIT_ID] > 0.9 and abs(p_uni[FRUIT_ID] - p_uni[COMPANY_ID]) < 0.2):
            raise SystemExit(f"{both}/{one} do not show the difference; not writing the files")
        for name, model in ((one, uni), (both, bi)):
            out = BUNDLED / f"{name}.safetensors"
            save_file(model.rnntui_state(), str(out))
            print(f"wrote {out.name} ({out.stat().st_size:,} bytes)")
    (BUNDLED / "apple-vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    print(f"wrote apple-vocab.txt; done in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
