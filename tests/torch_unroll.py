"""A torch reference for per-step dL/dh: nn.RNN / nn.LSTM / nn.GRU unrolled step by step with the module's
own parameters (PyTorch's equations and gate order), every h_t kept with `retain_grad()`, so that after
`loss.backward()` `h.grad` is autograd's total dL/dh_t (from the output and through time): what the
trace records as `grad.model.{i}.l{layer}.fwd.h`. nn.LSTM's fused kernel gives only the output path.

    model.rnn = Unrolled(model.rnn)      # same parameter objects: the gradients land on the module's own
    loss = ...; loss.backward()
    model.rnn.dh(layer)                  # (T, B, H)
"""
from __future__ import annotations

import torch
from torch import nn


class Unrolled(nn.Module):
    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        assert not rnn.bidirectional
        self.inner = rnn
        self.hs: list[list[torch.Tensor]] = []
        self.calls: list[list[list[torch.Tensor]]] = []   # each call's hs (a module called twice)

    def _step(self, layer: int, x, h, c):
        r = self.inner
        w_ih, w_hh = getattr(r, f"weight_ih_l{layer}"), getattr(r, f"weight_hh_l{layer}")
        b_ih, b_hh = getattr(r, f"bias_ih_l{layer}"), getattr(r, f"bias_hh_l{layer}")
        gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if isinstance(r, nn.LSTM):
            i, f, g, o = (gi + gh).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        if isinstance(r, nn.GRU):
            ir, iz, inn = gi.chunk(3, -1)
            hr, hz, hn = gh.chunk(3, -1)
            rr, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            n = torch.tanh(inn + rr * hn)
            return (1 - z) * n + z * h, None
        act = torch.tanh if r.nonlinearity == "tanh" else torch.relu
        return act(gi + gh), None

    def forward(self, x, hx=None):
        r = self.inner
        if r.batch_first:
            x = x.transpose(0, 1)
        T, B = x.shape[:2]
        zeros = x.new_zeros(r.num_layers, B, r.hidden_size)
        lstm = isinstance(r, nn.LSTM)
        if hx is None:
            hx = (zeros, zeros) if lstm else zeros
        h0, c0 = hx if lstm else (hx, None)
        self.hs, finals, cells = [], [], []
        self.calls.append(self.hs)
        seq = x
        for layer in range(r.num_layers):
            h, c, out = h0[layer], None if c0 is None else c0[layer], []
            for t in range(T):
                h, c = self._step(layer, seq[t], h, c)
                h.retain_grad()
                out.append(h)
            self.hs.append(out)
            finals.append(h)
            cells.append(c)
            seq = torch.stack(out)   # inter-layer dropout: off, as in eval()
        if r.batch_first:
            seq = seq.transpose(0, 1)
        h_n = torch.stack(finals)
        return seq, ((h_n, torch.stack(cells)) if lstm else h_n)

    def dh(self, layer: int, call: int = -1):
        return torch.stack([h.grad for h in self.calls[call][layer]]).numpy()
