"""Fixtures shared by the test modules."""
from __future__ import annotations

import importlib.util
import os

import pytest

import rnntui


TORCH_MISSING = (
    "rnntui's tests check the engine against PyTorch, which is not installed here: "
    "install the test dependencies first (pip install -e '.[test]', torch 2.13.0); "
    "without them the numerical checks would not run."
)


def pytest_configure(config: pytest.Config) -> None:
    """A missing torch fails the run with one message, instead of every numerical check being
    skipped (or failing to import) and the run looking green."""
    if importlib.util.find_spec("torch") is None:
        raise pytest.UsageError(TORCH_MISSING)


@pytest.fixture(scope="session", autouse=True)
def _training_cache(tmp_path_factory):
    """Replayed training runs are cached on disk (engine/train_cache.py): in the tests, in a folder of the
    session's own, never the user's ~/.cache; subprocesses inherit it."""
    os.environ["RNNTUI_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield


class _Traces(dict):
    """Bundled scenarios by name, each run the first time it is asked for. A trace is immutable,
    so one run serves every test of the session."""

    def __missing__(self, name: str):
        trace = self[name] = rnntui.run(name)
        return trace


@pytest.fixture(scope="session")
def traces() -> _Traces:
    return _Traces()
