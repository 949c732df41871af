"""How rnntui should read a module by running it: torch.export against rnntui's recorder (issue 21).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/export_vs_recorder.py

For each classic model of the tests (tests/test_from_torch_*.py: the same modules, float64), it measures:
- torch.fx symbolic tracing (what from_torch tries first): whether it traces, and its time;
- torch.export.export(module, args, kwargs, strict=False): whether it exports, its time, its node count, and
  whether the graph still shows the recurrent modules (an `aten.lstm`/`aten.gru` call, or an `nn.LSTMCell`
  in a node's nn_module_stack) rather than their arithmetic alone: what rnntui would need to map a cell;
- the recorder (torch_bridge/loops.py `record`: a TorchFunctionMode and module hooks): its time and events;
- from_torch itself (trace, map, write, load, run, check), and whether it reads the model.
Times are the best of 3, after one call that pays imports and caches.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import torch

import rnntui
from rnntui.torch_bridge.loops import record
from tests import test_from_torch_args as A
from tests import test_from_torch_graphs as G
from tests import test_from_torch_loops as L

warnings.filterwarnings("ignore")


def best(fn, n=3):
    fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def cases():
    """name -> (module, args, kwargs, from_torch keywords)."""
    torch.manual_seed(0)
    g = np.random.default_rng(0)

    def ids(*shape, V=7):
        return torch.from_numpy(g.integers(0, V, shape))

    lm = A.WordLM("LSTM").double()
    gru_lm = A.WordLM("GRU").double()
    out = {
        "word LM, LSTM (2 layers, hidden given)": (lm, (ids(6, 2), A._carried(lm, 2, 1)), {}, dict(loss="nll",
                                                    target=ids(6, 2))),
        "word LM, GRU": (gru_lm, (ids(6, 2), A._carried(gru_lm, 2, 1)), {}, dict(loss="nll", target=ids(6, 2))),
        "tied word LM, LSTM": (G.TiedLM("LSTM").double(), (ids(6, 2, V=9), G._hidden("LSTM", 2, torch.float64)), {},
                               dict(loss="nll", target=ids(12, V=9))),
        "char classifier, hidden[0]": (A.CharClassifier().double(), (ids(3, 5), torch.zeros(1, 3, 4).double()), {},
                                       dict(loss="nll", target=torch.tensor([2, 0, 1]))),
        "mnist-style rows": (G.warmed(G.RowLSTM()).double(), (G._x(3, 1, 6, 6),), {}, dict(loss="nll",
                             target=torch.tensor([3, 0, 1]))),
        "siamese, one encoder": (G.Siamese().double(), (ids(3, 5, V=9), ids(3, 4, V=9)), {},
                                 dict(loss="nll", target=torch.tensor([0, 2, 1]))),
        "residual stacked LSTM": (G.Residual().double(), (G._x(2, 5, 3),), {}, {}),
        "LayerNorm LSTM": (G.NormedLSTM().double(), (G._x(2, 5, 3),), {}, {}),
        "sine predictor (2 LSTMCells)": (L.SinePredictor().double(), (L._x(3, 7),), {}, {}),
        "sine predictor, future=4": (L.SinePredictor().double(), (L._x(3, 7),), {"future": 4}, {}),
        "custom cell (nn.Linear, gates)": (L.CustomRNN().double(), (L._x(6, 2, 3),), {}, {}),
        "seq2seq, additive attention": (L.AttnSeq2Seq().double(), (ids(3, 6), ids(3, 4)), {},
                                        dict(loss="nll", target=ids(3, 4))),
    }
    return out


def export_words(ep) -> tuple[int, str]:
    nodes = list(ep.graph.nodes)
    fused = sorted({str(n.target).split(".")[1] for n in nodes if n.op == "call_function"
                    and any(k in str(n.target) for k in ("aten.lstm", "aten.gru", "aten.rnn_tanh"))})
    cells = sorted({cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1]
                    for n in nodes for _, cls in (n.meta.get("nn_module_stack") or {}).values()
                    if "Cell" in str(cls)})
    seen = ", ".join(fused + cells) or "arithmetic only"
    return len(nodes), seen


def main() -> None:
    rows = []
    for name, (m, args, kw, ft) in cases().items():
        m.eval()
        try:
            t_fx = best(lambda: torch.fx.symbolic_trace(m), n=2)
            fx = f"{t_fx * 1000:.0f} ms"
        except Exception as exc:  # noqa: BLE001 - a measurement: what fails is the result
            fx = f"fails ({type(exc).__name__})"
        try:
            t_ex = best(lambda: torch.export.export(m, args, kw, strict=False), n=2)
            ep = torch.export.export(m, args, kw, strict=False)
            n, seen = export_words(ep)
            ex = f"{t_ex * 1000:.0f} ms, {n} nodes, {seen}"
        except Exception as exc:  # noqa: BLE001
            ex = f"fails ({type(exc).__name__}: {str(exc).splitlines()[0][:60]})"
        t_rec = best(lambda: record(m, args, kw))
        events = len(record(m, args, kw)[0])
        try:
            t_ft = best(lambda: rnntui.from_torch(m, *args, kwargs=kw or None, **ft), n=2)
            ft_words = f"{t_ft * 1000:.0f} ms"
        except Exception as exc:  # noqa: BLE001
            ft_words = f"refused: {str(exc)[:60]}"
        rows.append((name, fx, ex, f"{t_rec * 1000:.1f} ms, {events} events", ft_words))
    print("| model | torch.fx | torch.export (strict=False) | recorder | from_torch |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
