"""`rnntui scan`: every sample of a data set run forward and backward, one row of numbers each, no trace kept.

The scenario is loaded once per process; each sample then runs as `rnntui run --sample k` runs it (a batch
of one cut from the data set, scenario/dataset.py), its row is measured (samples/measure.py) and the trace
dropped, so memory stays flat in N: the rows are kept as one compact array per column (samples/rows.py, ~8
bytes a number), and chunks are handed out a few at a time, their rows taken as each chunk completes. With
`workers` > 1 the samples are handed out in contiguous chunks (`chunk_size`: large enough that a chunk's
hand-over costs nothing beside its work, small enough that the progress bar moves and Ctrl-C loses little) to
that many processes, started once each (each loads the scenario once); each chunk's rows join the table in
sample order as the chunks complete (`_InOrder`), so the table is the same however the samples were split. Ctrl-C (or any signal that ends the scan) keeps the rows done so far: `Scan.complete` says whether
every sample was reached.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rnntui.engine.handlers import handler
from rnntui.errors import Problem, ScenarioError

CHUNK = 32        # the fewest samples a worker takes at a time
MAX_CHUNK = 512   # the most (~5 s of T=100, H=128 LSTM samples): what Ctrl-C may lose of each worker's work
IN_FLIGHT = 2     # chunks handed to each worker ahead: one running, one waiting, so no worker ever idles


def chunk_size(N: int, workers: int) -> int:
    """Samples per chunk: about a sixteenth of each worker's share, within CHUNK..MAX_CHUNK."""
    return max(CHUNK, min(MAX_CHUNK, N // (16 * max(workers, 1))))


@dataclass(frozen=True)
class Scan:
    """The rows (sample order), how many samples the data set has, and what was scanned."""

    rows: Sequence[dict]
    """In sample order: samples/rows.py `Rows` (a dict per row, read from columns), or any sequence of dicts."""
    N: int
    scenario: str
    dataset: str

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.N

    @property
    def columns(self) -> list[str]:
        from rnntui.samples.measure import COLUMNS

        extra = sorted({k for r in self.rows for k in r if k not in COLUMNS})
        return list(COLUMNS) + extra

    def ranked(self, by: str | None = None) -> list[dict]:
        """Worst first (samples/measure.py `badness`), or by a column, largest first (nan last)."""
        from rnntui.samples.measure import badness
        from rnntui.samples.rows import Rows, badness_order

        if by is None:
            order = badness_order(self.rows) if isinstance(self.rows, Rows) else None
            if order is not None:   # on the columns: no dict per row held for the sort
                return self.rows.in_order(order)
            return sorted(self.rows, key=badness, reverse=True)

        def key(r):
            v = r.get(by, math.nan)
            bad = isinstance(v, float) and math.isnan(v)
            return (not bad, v if not bad else 0)

        return sorted(self.rows, key=key, reverse=True)


_state: dict = {}


def _load(path: str, dataset: str | None, max_memory: int | None):
    """The scenario (its first sample), loaded once per process."""
    from rnntui.scenario import load_scenario

    key = (path, dataset, max_memory)
    if _state.get("key") != key:
        sc = load_scenario(path, max_memory=max_memory, text=_with_dataset(path, dataset))
        if sc.dataset is None:
            raise ScenarioError([Problem(str(path), None, None, "input", (
                "scan runs every sample of a data set; expected input: {dataset: data.npz} in the scenario, "
                "or --dataset FILE"))])
        if sc.train is not None:
            raise ScenarioError([Problem(str(path), None, None, "train", (
                "scan runs each sample once with the scenario's weights; remove train: (or scan a scenario "
                "written from the iteration you want)"))])
        check_targets(sc)
        _state.update(key=key, sc=sc)
    return _state["sc"]


def _with_dataset(path: str, dataset: str | None) -> str | None:
    """The scenario's text with `input:` replaced by {dataset: FILE} (an absolute path), or None (unchanged)."""
    if dataset is None:
        return None
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    data = yaml.load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return None   # the loader says what is wrong with it
    data["input"] = {"dataset": str(Path(dataset).resolve())}
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def sample_scenario(sc, k: int):
    """*sc* reading sample k of its data set alone (as the loader lays out a batch of one)."""
    from types import SimpleNamespace

    import numpy as np

    from rnntui.scenario.dataset import batch_input

    first = sc.layout[0]
    ids = handler(first.type).laid_out_id_count(first) if handler(first.type).reads_ids else None
    vocab = SimpleNamespace(vocab=list(sc.vocab) if sc.vocab is not None else None)
    built, target = batch_input(sc.dataset, k, 1, vocab, Path(sc.file).parent, None, ids)
    if target is not None:
        if sc.layout[-1].seq_out:          # batch first in the file, time first in the engine
            target = np.moveaxis(target, 0, 1)
        target = np.ascontiguousarray(target.astype(np.int64) if sc.loss != "mse" else target)
    return replace(sc, x=built.x, lengths=built.lengths, tokens=built.tokens, token_ids=built.token_ids,
                   target=target if target is not None else sc.target, sample=k, sample_ids=(k,),
                   samples_total=sc.dataset.N)


def check_targets(sc) -> None:
    """Every sample's target, checked once before the scan (the loader checked the first batch's): class
    indices within the model's classes, the layout the output needs."""
    import numpy as np

    ds = sc.dataset
    if ds.target is None or sc.loss == "mse":
        return
    t = ds.target
    F = sc.layout[-1].out_shape[0]
    want = (ds.N, ds.T) if sc.layout[-1].seq_out else (ds.N,)
    if t.shape != want:
        raise ScenarioError([Problem(ds.path, None, None, "target", f"has shape {t.shape}; expected {want}: class "
                                     "indices laid out like the model's output, batch first")])
    bad = ~np.isfinite(t) | (t != np.round(t)) | (t < 0) | (t >= F)
    if sc.layout[-1].seq_out:   # a padded step's target is ignored
        real = np.arange(ds.T)[None, :] < (ds.lengths[:, None] if ds.lengths is not None else ds.T)
        bad &= real
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ScenarioError([Problem(ds.path, None, None, "target", (
            f"target{''.join(f'[{i}]' for i in at)} is {t[at]}; expected whole class indices in 0..{F - 1} "
            f"({int(bad.sum())} such values)"))])


def _rows(path: str, dataset: str | None, max_memory: int | None, ks: list[int], how=None) -> list[dict]:
    """The rows of samples *ks* (in a worker, or in this process): *how(trace, k)* of each sample's run
    (default samples/measure.py `measure`; a function at a module's top level, so a worker can be sent it)."""
    from rnntui.engine import run_scenario
    from rnntui.samples.measure import measure

    sc = _load(path, dataset, max_memory)
    how = how or measure
    out = []
    for k in ks:
        out.append(how(run_scenario(sample_scenario(sc, k), max_memory=max_memory), k))
    return out


def _init_worker() -> None:
    """One BLAS thread a worker: the workers are the parallelism."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def scan(path: str, dataset: str | None = None, workers: int = 1, max_memory: int | None = None,
         progress=None, limit: int | None = None, how=None, scheduler: str | None = None) -> Scan:
    """Every sample of the scenario's data set (or *dataset*); *progress(done, N)* after each chunk; *limit*:
    the first that many samples only; *how(trace, k)*: the row of a sample (default: samples/measure.py);
    *scheduler*: a Dask distributed scheduler's address, whose workers take the chunks instead (each needs
    rnntui and the scenario's files at the same paths)."""
    from rnntui.blas import one_thread
    from rnntui.samples.rows import Rows

    sc = _load(str(path), dataset, max_memory)
    N = sc.dataset.N if limit is None else min(limit, sc.dataset.N)
    size = chunk_size(N, 1 if scheduler is None and workers <= 1 else workers)
    chunks = [range(a, min(a + size, N)) for a in range(0, N, size)]
    done = _InOrder(Rows())   # the rows in sample order, a chunk that completes early held until its turn
    try:
        if scheduler is not None:
            _on_dask(scheduler, str(path), dataset, max_memory, chunks, how, done, progress, N, workers)
        elif workers <= 1:
            with one_thread():   # as in a worker: one BLAS thread (a sample's products are small)
                for i, ks in enumerate(chunks):
                    done.add(i, _rows(str(path), dataset, max_memory, ks, how))
                    if progress:
                        progress(len(done), N)
        else:
            _on_processes(workers, str(path), dataset, max_memory, chunks, how, done, progress, N)
    except KeyboardInterrupt:
        pass   # what is done is kept; `complete` says it is not all
    return Scan(done.finish(), N, str(path), sc.dataset.path)


class _InOrder:
    """Chunks' rows put in sample order as they complete: chunk i's rows are appended once chunks 0..i-1 are, a
    chunk that completes early waits here (at most the chunks handed out ahead), so no pass reorders the rows."""

    def __init__(self, rows):
        self.rows = rows
        self._early: dict[int, list[dict]] = {}
        self._next = 0
        self._held = 0

    def add(self, i: int, chunk: list[dict]) -> None:
        self._early[i] = chunk
        self._held += len(chunk)
        while self._next in self._early:
            got = self._early.pop(self._next)
            self._held -= len(got)
            for row in got:
                self.rows.append(row)
            self._next += 1

    def __len__(self) -> int:
        return len(self.rows) + self._held

    def finish(self):
        """The rows; after an interruption, the chunks that completed beyond a gap too (still in sample order)."""
        for i in sorted(self._early):
            for row in self._early.pop(i):
                self.rows.append(row)
        self._held = 0
        return self.rows


def _on_processes(workers: int, path: str, dataset, max_memory, chunks, how, done, progress, N: int) -> None:
    """The chunks run by *workers* processes, started once (spawned: no thread or lock of this process is
    copied into them), each chunk's rows taken as it completes, at most IN_FLIGHT chunks a worker handed out
    ahead (the rest wait here as ranges, not as futures holding rows)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    todo = iter(enumerate(chunks))
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        running = set()
        try:
            index: dict = {}
            for i, ks in todo:
                f = pool.submit(_rows, path, dataset, max_memory, ks, how)
                running.add(f)
                index[f] = i
                if len(running) >= IN_FLIGHT * workers:
                    break
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    done.add(index.pop(f), f.result())
                    nxt = next(todo, None)
                    if nxt is not None:
                        g = pool.submit(_rows, path, dataset, max_memory, nxt[1], how)
                        running.add(g)
                        index[g] = nxt[0]
                if progress:
                    progress(len(done), N)
        except BaseException:
            for f in running:
                f.cancel()
            raise


def _numpy(a):
    """A batch's array as NumPy (a torch tensor is detached and moved to the CPU; torch stays optional)."""
    import numpy as np

    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _on_dask(address: str, path: str, dataset, max_memory, chunks, how, done, progress, N: int,
             workers: int = 1) -> None:
    """The chunks handed to a Dask cluster's workers (an optional extra: pip install rnntui[dask])."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ScenarioError([Problem(path, None, None, "", "--scheduler needs Dask's distributed scheduler: "
                                     "pip install 'rnntui[dask]'")]) from None
    try:
        client = Client(address, timeout=10)   # seconds to connect: a wrong address is said soon
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError([Problem(path, None, None, "", f"--scheduler {address}: cannot connect ({exc})")]) from None
    path = str(Path(path).resolve())
    dataset = None if dataset is None else str(Path(dataset).resolve())
    try:
        # a few chunks a worker ahead, each chunk's rows taken (and its future released) as it completes
        ahead = IN_FLIGHT * max(len(client.scheduler_info().get("workers", {})), workers, 1)
        todo = iter(enumerate(chunks))
        index: dict = {}

        def submit(i, ks):
            f = client.submit(_rows, path, dataset, max_memory, ks, how, pure=False)
            index[f.key] = i
            return f

        first = [submit(*item) for item in (next(todo, None) for _ in range(ahead)) if item is not None]
        running = as_completed(first)
        try:
            for f in running:
                done.add(index.pop(f.key), f.result())
                f.release()
                nxt = next(todo, None)
                if nxt is not None:
                    running.add(submit(*nxt))
                if progress:
                    progress(len(done), N)
        except BaseException:
            client.cancel(list(running.futures) if hasattr(running, "futures") else first)
            raise
    finally:
        client.close()


def scan_batches(path: str, loader, max_memory: int | None = None, progress=None) -> Scan:
    """Every sample of *loader*, an iterable of (x, target[, lengths]) batches laid out as a data set file's
    arrays (x (B, T, F) numbers or (B, T) token ids, target batch first, lengths (B,)): a torch DataLoader
    included. The scenario gives the model and the loss; each sample runs alone, as in `scan`, and is read
    from the loader only when its turn comes (nothing of the loader is held)."""
    from rnntui.engine import run_scenario
    from rnntui.errors import RnntuiError
    from rnntui.samples.measure import measure
    from rnntui.scenario import load_scenario
    from rnntui.scenario.dataset import Dataset

    from rnntui.samples.rows import Rows

    sc = load_scenario(path, max_memory=max_memory)
    rows = Rows()
    k = 0
    try:
        for n, batch in enumerate(loader):
            if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
                raise RnntuiError(f"loader batch {n}: found {type(batch).__name__}; expected (x, target) or "
                                  "(x, target, lengths)")
            x, target = _numpy(batch[0]), _numpy(batch[1])
            lengths = _numpy(batch[2]).astype("int64") if len(batch) == 3 else None
            ds = Dataset(f"loader batch {n}", x, lengths, target)
            for j in range(ds.N):
                one = replace(sc, dataset=ds)
                row = measure(run_scenario(sample_scenario(one, j), max_memory=max_memory), k)
                rows.append(row)
                k += 1
            if progress:
                progress(k, k)
    except KeyboardInterrupt:
        return Scan(rows, k + 1, str(path), "a loader")
    return Scan(rows, k, str(path), "a loader")


__all__ = ["Scan", "sample_scenario", "scan", "scan_batches"]
