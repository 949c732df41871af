"""`rnntui check --dataset FILE` (or `--all-samples`): the assertions at every sample of a data set, each
sample run alone (as `rnntui scan` runs it); the samples where one fails, with where it first fails."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial


def _sample_row(asserts: tuple[str, ...], trace, k: int) -> dict:
    from rnntui.expr.check import check_trace

    result = check_trace(trace, list(asserts))
    return {"sample": k, "ok": result.ok, "lines": [line for line in result.lines() if line.startswith(("FAIL", " "))]}


@dataclass(frozen=True)
class DatasetCheck:
    rows: tuple[dict, ...]
    N: int
    asserts: tuple[str, ...]

    @property
    def failing(self) -> list[dict]:
        return [r for r in self.rows if not r["ok"]]

    @property
    def ok(self) -> bool:
        return not self.failing and len(self.rows) == self.N

    @property
    def exit_code(self) -> int:
        return 0 if not self.failing else 1

    def lines(self, most: int = 10) -> list[str]:
        bad = self.failing
        out = [f"checked {len(self.rows):,} of {self.N:,} samples: "
               + ("every assertion holds at every one" if not bad else
                  f"an assertion fails at {len(bad):,} of them: samples "
                  + ", ".join(str(r["sample"]) for r in bad[:30]) + (" ..." if len(bad) > 30 else ""))]
        for r in bad[:most]:
            out.append(f"sample {r['sample']}:")
            out += [f"  {line}" for line in r["lines"]]
        if len(bad) > most:
            out.append(f"(and {len(bad) - most:,} more samples; --json lists every one)")
        return out

    def to_json(self) -> str:
        import json

        return json.dumps(self.to_dict())

    def to_dict(self) -> dict:
        return {"samples": self.N, "checked": len(self.rows), "ok": self.ok, "assertions": list(self.asserts),
                "failing_samples": [r["sample"] for r in self.failing],
                "failures": {str(r["sample"]): r["lines"] for r in self.failing}}


def check_dataset(path: str, asserts, dataset: str | None = None, workers: int = 1, max_memory: int | None = None,
                  progress=None) -> DatasetCheck:
    """Every assertion at every sample; ExprError before any sample runs for one that cannot be used."""
    from rnntui.engine import run_scenario
    from rnntui.expr.check import check_trace, parse_asserts
    from rnntui.samples.run import _load, sample_scenario, scan

    texts = tuple(a.text if hasattr(a, "text") else str(a) for a in parse_asserts(asserts))
    sc = _load(str(path), dataset, max_memory)
    check_trace(run_scenario(sample_scenario(sc, 0), max_memory=max_memory), list(texts))   # names bound once
    result = scan(str(path), dataset=dataset, workers=workers, max_memory=max_memory, progress=progress,
                  how=partial(_sample_row, texts))
    return DatasetCheck(result.rows, result.N, texts)


__all__ = ["DatasetCheck", "check_dataset"]
