"""Fixtures shared by the test modules."""
from __future__ import annotations

import os

import pytest

import rnntui


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
