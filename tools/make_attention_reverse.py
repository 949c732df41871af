"""Train the seq2seq with attention of `graph-attention-reverse.yaml` and write
`attention-reverse-weights.safetensors`.

Run by hand from the project's root (needs torch; well under a minute on 2 cores):

    .venv/bin/python tools/make_attention_reverse.py

The task: read 5 digits, write them back reversed, then END. A GRU encoder reads the digits; the
decoder starts from its last state and at every step attends (additive, Bahdanau, as PyTorch's seq2seq
tutorial) over the encoder's outputs, so to write the t-th digit it can look at source step 4 - t. The
decoder is trained with teacher forcing, exactly as the scenario runs it: it reads GO and then the
reversed digits, and at each step predicts the next one (the last step predicts END).

The modules are the ones the scenario's graph nodes stand for, saved under rnntui's names:

    model.0  nn.Embedding(13, 8)                        0.weight
    model.1  nn.GRU(8, 16)                              1.weight_ih_l0, ...
    model.2  op last (the encoder's last step)
    model.3  nn.Embedding(13, 8)                        3.weight
    model.4  recurrence: attention Wa, Ua, Va           4.ctx.Wa.weight, ...
                         nn.GRUCell(8 + 16, 16)         4.cell.weight_ih, ...
    model.5  nn.Linear(16, 13)                          5.weight, 5.bias

The scenario's own sequences (SHOWN) are kept out of training. Seeded.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "rnntui" / "bundled" / "attention-reverse-weights.safetensors"

VOCAB = ["PAD", "GO", "END"] + [str(d) for d in range(10)]
PAD, GO, END, DIGIT0 = 0, 1, 2, 3
V, E, H, A, T = len(VOCAB), 8, 16, 16, 5
SHOWN = ["3 1 4 1 5", "2 7 1 8 2", "9 0 2 6 4", "6 6 0 3 8"]
STEPS, BATCH, LR = 800, 64, 1e-2


class AttentionReverser(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_emb = torch.nn.Embedding(V, E)
        self.enc = torch.nn.GRU(E, H)
        self.dec_emb = torch.nn.Embedding(V, E)
        self.Wa, self.Ua, self.Va = torch.nn.Linear(H, A), torch.nn.Linear(H, A), torch.nn.Linear(A, 1)
        self.cell = torch.nn.GRUCell(E + H, H)
        self.out = torch.nn.Linear(H, V)

    def forward(self, src, dec_in):
        keys, _ = self.enc(self.enc_emb(src))            # (T, B, H)
        h = keys[-1]
        x = self.dec_emb(dec_in)
        outs, weights = [], []
        for t in range(x.shape[0]):
            w = torch.softmax(self.Va(torch.tanh(self.Wa(h) + self.Ua(keys)))[..., 0], dim=0)   # (T, B)
            ctx = (w[..., None] * keys).sum(0)
            h = self.cell(torch.cat([x[t], ctx], -1), h)
            outs.append(h)
            weights.append(w.T)
        return self.out(torch.stack(outs)), torch.stack(weights)

    def rnntui_state(self) -> dict[str, np.ndarray]:
        named = {"0": self.enc_emb, "1": self.enc, "3": self.dec_emb, "4.ctx.Wa": self.Wa, "4.ctx.Ua": self.Ua,
                 "4.ctx.Va": self.Va, "4.cell": self.cell, "5": self.out}
        suffix = {"1": "_l0"}
        out = {}
        for k, m in named.items():
            for name, p in m.named_parameters():
                name = name[:-len("_l0")] + "_l0" if k == "1" else name
                out[f"{k}.{name}"] = p.detach().cpu().numpy().astype(np.float64)
        del suffix
        return out


def as_ids(digits: np.ndarray):
    src = digits + DIGIT0
    rev = src[:, ::-1]
    B = len(digits)
    dec_in = np.concatenate([np.full((B, 1), GO), rev], 1)
    target = np.concatenate([rev, np.full((B, 1), END)], 1)
    return src.T.copy(), dec_in.T.copy(), target.T.copy()


def draw(rng, n):
    shown = {tuple(int(c) for c in s.split()) for s in SHOWN}
    digits = rng.integers(0, 10, (n, T))
    return digits[np.array([tuple(r) not in shown for r in digits.tolist()])]


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    model = AttentionReverser()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / STEPS)
    start = time.perf_counter()
    for step in range(1, STEPS + 1):
        src, dec_in, target = (torch.as_tensor(a) for a in as_ids(draw(rng, BATCH)))
        logits, _ = model(src, dec_in)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:5.1f}s", flush=True)
    shown = np.array([[int(c) for c in s.split()] for s in SHOWN])
    src, dec_in, target = (torch.as_tensor(a) for a in as_ids(shown))
    with torch.no_grad():
        logits, w = model(src, dec_in)
    right = (logits.argmax(-1) == target).all(0)
    peaks = w.argmax(-1)[:T]           # (T, B): the source step each of the first T decoder steps attends to most
    print("the scenario's batch right:", right.tolist(), "attention peaks:", peaks.T.tolist())
    if not bool(right.all()):
        raise SystemExit("the scenario's sequences are not all reversed; not writing the file")
    save_file(model.rnntui_state(), str(OUT))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
