"""Every file of the hostile corpus (tests/hostile/<family>/*.yaml) is refused as its `# expect:` lines say."""
from __future__ import annotations

import pytest

from tests.hostile.common import HERE, check_corpus_file, corpus

FILES = [p for family in ("yaml", "sizes", "types", "terminal", "training") for p in corpus(family)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_corpus_file_is_refused(tmp_path, path):
    check_corpus_file(path, tmp_path)


def test_every_family_has_files():
    assert all(corpus(f) for f in ("yaml", "sizes", "types", "terminal", "training")), sorted(HERE.iterdir())
