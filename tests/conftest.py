"""Fixtures shared by the test modules."""
from __future__ import annotations

import pytest

import rnntui


class _Traces(dict):
    """Bundled scenarios by name, each run the first time it is asked for. A trace is immutable,
    so one run serves every test of the session."""

    def __missing__(self, name: str):
        trace = self[name] = rnntui.run(name)
        return trace


@pytest.fixture(scope="session")
def traces() -> _Traces:
    return _Traces()
