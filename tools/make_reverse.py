"""Train the encoder-decoder of `seq2seq-reverse.yaml` and write `reverse-weights.safetensors`.

Run by hand from the project's root (needs the test extra, which brings torch; ~1 minute on 2 cores):

    .venv/bin/python tools/make_reverse.py

The task: read 4 to 6 digits, write them back reversed, then END. A GRU encoder reads the digits;
its final state is all the decoder gets (no attention), so the last digit written (the first one read)
must survive the whole encoder and the whole decoder. The decoder is trained with teacher forcing,
exactly as the scenario runs it: it reads GO and then the reversed digits, and at each step predicts
the next one (the last step predicts END).

The modules are the ones rnntui's entries stand for, with the same parameter names, so the weights
are saved under rnntui's keys "{entry index}.{PyTorch name}":

    model.0  nn.Embedding(13, 8, padding_idx=0)   encoder      0.weight
    model.1  nn.GRU(8, 32)                                     1.weight_ih_l0, ...
    model.2  nn.Embedding(13, 8, padding_idx=0)   decoder      2.weight
    model.3  nn.GRU(8, 32), started from model.1's h_n         3.weight_ih_l0, ...
    model.4  nn.Linear(32, 13)                                 4.weight, 4.bias

The scenario's own sequences (SHOWN) are kept out of training, so the debugger shows the model on
sequences it never saw. Seeded: the same torch build writes the same file.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "rnntui" / "bundled" / "reverse-weights.safetensors"

VOCAB = ["PAD", "GO", "END"] + [str(d) for d in range(10)]
PAD, GO, END, DIGIT0 = 0, 1, 2, 3
V, E, H = len(VOCAB), 8, 32
LENGTHS = (4, 5, 6)
SHOWN = ["3 1 4 1 5", "2 7 1 8 2", "9 0 2 6 4", "6 6 0 3 8"]   # the scenario's batch: never trained on
STEPS, BATCH, LR = 2500, 128, 1e-2


class Reverser(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_emb = torch.nn.Embedding(V, E, padding_idx=PAD)
        self.enc = torch.nn.GRU(E, H)
        self.dec_emb = torch.nn.Embedding(V, E, padding_idx=PAD)
        self.dec = torch.nn.GRU(E, H)
        self.out = torch.nn.Linear(H, V)

    def forward(self, src, dec_in):
        """src (T, B) and dec_in (T + 1, B) ids, time first as rnntui runs them; logits (T + 1, B, V)."""
        _, h_n = self.enc(self.enc_emb(src))
        y, _ = self.dec(self.dec_emb(dec_in), h_n)
        return self.out(y)

    def rnntui_state(self) -> dict[str, np.ndarray]:
        entries = [self.enc_emb, self.enc, self.dec_emb, self.dec, self.out]
        return {f"{i}.{name}": p.detach().cpu().numpy().astype(np.float32)
                for i, m in enumerate(entries) for name, p in m.named_parameters()}


def as_ids(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits (B, T) -> encoder input (T, B), decoder input GO + reversed (T + 1, B), target reversed + END."""
    src = digits + DIGIT0
    rev = src[:, ::-1]
    B = len(digits)
    dec_in = np.concatenate([np.full((B, 1), GO), rev], 1)
    target = np.concatenate([rev, np.full((B, 1), END)], 1)
    return src.T.copy(), dec_in.T.copy(), target.T.copy()


def draw(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    shown = {tuple(int(c) for c in s.split()) for s in SHOWN}
    digits = rng.integers(0, 10, (n, length))
    keep = np.array([tuple(row) not in shown for row in digits.tolist()])
    return digits[keep]


def accuracy(model: Reverser, digits: np.ndarray) -> tuple[float, float]:
    """Teacher-forced: share of steps whose arg-max is the target, share of sequences right at every step."""
    src, dec_in, target = (torch.as_tensor(a) for a in as_ids(digits))
    with torch.no_grad():
        hit = model(src, dec_in).argmax(-1) == target
    return float(hit.float().mean()), float(hit.all(0).float().mean())


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    model = Reverser()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    # the rate falls linearly to 0: the late steps settle instead of bouncing (length 6 gains most)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / STEPS)
    start = time.perf_counter()
    for step in range(1, STEPS + 1):
        src, dec_in, target = (torch.as_tensor(a) for a in as_ids(draw(rng, BATCH, int(rng.choice(LENGTHS)))))
        logits = model(src, dec_in)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:5.1f}s")
    held_out = np.random.default_rng(1)
    for length in LENGTHS:
        steps, seqs = accuracy(model, draw(held_out, 2000, length))
        print(f"length {length}: {steps:.2%} of steps, {seqs:.2%} of sequences right (2000 unseen)")
    shown = np.array([[int(c) for c in s.split()] for s in SHOWN])
    steps, seqs = accuracy(model, shown)
    print(f"the scenario's batch: {seqs:.0%} of sequences right")
    if seqs < 1:
        raise SystemExit("the scenario's sequences are not all reversed; not writing the file")
    save_file(model.rnntui_state(), str(OUT))
    print(f"wrote {OUT.name} ({OUT.stat().st_size:,} bytes) in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
