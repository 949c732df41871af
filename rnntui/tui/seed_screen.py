"""`o`: what BPTT traces back. The run's gradients are those of its loss; a language model's loss holds a term
per step, and attribution asks about one output. Here the user names one:

    loss            the whole loss (what the run differentiated)
    loss 5          step 5's loss term alone (every sample's term at that step)
    logp 3          log p(class 3) at the cursor's step, of the cursor's sample (its log-probability)
    p 3             p(class 3)
    out 3           output unit 3 (a class's score where the output is the logits)

A class may be given by its name (`class_names:` or the vocabulary); `t=N` and `s=N` choose another step
and sample. Returns an attribution.Seed, "loss" for the whole loss, or None when cancelled."""
from __future__ import annotations

import re

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from rnntui.engine.attribution import Seed, SeedError, check
from rnntui.errors import printable
from rnntui.render.header import class_labels
from rnntui.tui.screens import ParsedDialog

ALIASES = {"score": "out", "logprob": "logp", "prob": "p"}


def output_facts(trace) -> tuple[bool, bool, tuple[int, ...]]:
    """(stepped, has_logits, output shape) of a run: what a seed may name."""
    info = trace.info
    last = info.entries[-1]
    stepped = bool(info.seq and last.seq_out)
    has_logits = info.loss == "cross_entropy" or last.activation == "softmax"
    return stepped, has_logits, tuple(trace["output"].shape)


class SeedScreen(ParsedDialog["Seed | str | None"]):
    ERROR_ID = "seed-error"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, trace, t: int, sample: int, current: Seed | None):
        super().__init__()
        self.trace, self.sample, self.current = trace, sample, current
        self.stepped, self.has_logits, self.shape = output_facts(trace)
        self.t = min(t, self.shape[0] - 1) if self.stepped else None
        self.labels = class_labels(trace)

    def compose(self) -> ComposeResult:
        info = self.trace.info
        now = "the whole loss" if self.current is None else self.current.words(self.labels)
        head = Text(f"What BPTT traces back (now: {now}). Every gradient shown becomes the gradient of it:\n",
                    Style(bold=True))
        at = f"t={self.t}, " if self.stepped else ""
        forms = ["loss: the whole loss"]
        if self.stepped:
            forms.append(f"loss {self.t}: step {self.t}'s loss term alone")
        if self.has_logits:
            forms += [f"logp K: log p(class K) at {at}sample {self.sample}", "p K: p(class K)"]
        forms.append("out K: output unit K" + (" (a class's score: the output is the logits)"
                                                if self.has_logits and info.entries[-1].activation != "softmax" else ""))
        head.append("  " + "\n  ".join(forms) + "\n")
        head.append("t=N and s=N choose another step and sample", Style(dim=True))
        if self.labels:
            shown = ", ".join(f"{k} {printable(n)}" for k, n in enumerate(self.labels[:12]))
            more = f" and {len(self.labels) - 12} more" if len(self.labels) > 12 else ""
            head.append(f"; classes (by number or name): {shown}{more}", Style(dim=True))
        with Vertical(id="seed"):
            yield Static(head)
            yield Input(placeholder=f"loss {self.t}" if self.stepped else ("logp 0" if self.has_logits else "out 0"),
                        id="seed-input", max_length=120)
            yield Static("", id="seed-error")

    def parse(self, text: str) -> "Seed | str":
        words = text.split()
        if not words:
            return "type loss, loss T, logp K, p K or out K"
        kind = ALIASES.get(words[0], words[0])
        if kind not in ("loss", "logp", "p", "out"):
            return f"found {words[0]!r}; expected loss, logp, p or out"
        t, s, unit = self.t, self.sample, None
        for w in words[1:]:
            m = re.fullmatch(r"([ts])=([0-9]{1,9})", w)
            if m:
                if not self.stepped and m.group(1) == "t":
                    return "this run's output has no steps (one per sample): no t= here"
                if m.group(1) == "t":
                    t = int(m.group(2))
                else:
                    s = int(m.group(2))
            elif unit is None:
                if w.isdigit() and len(w) < 10:
                    unit = int(w)
                elif self.labels and w in self.labels:
                    unit = self.labels.index(w)
                else:
                    return f"found {w!r}; expected a number" + (" or a class name" if self.labels else "")
            else:
                return f"found {w!r} after {words[1]!r}; expected t=N or s=N"
        if kind == "loss":
            if unit is None and "t=" not in text:
                return "loss"
            seed = Seed("loss", t=unit if unit is not None else t)
        else:
            if unit is None:
                return f"expected a {'class' if kind != 'out' else 'unit'} after {words[0]}"
            if words[0] == "score" and not (self.has_logits and self.trace.info.entries[-1].activation != "softmax"):
                return "score is the class's logit, where the output is the logits; here use logp K or p K (or out K)"
            seed = Seed(kind, t=t, sample=s, unit=unit)
        try:
            check(seed, self.trace.info, self.shape, self.stepped, self.has_logits)
        except SeedError as exc:
            return str(exc)
        return seed

    def is_problem(self, got) -> bool:
        return isinstance(got, str) and got != "loss"   # "loss": back to the whole loss, a result
