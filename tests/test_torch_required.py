"""Without torch the test run fails with one message; it is never a green run of skipped checks."""
import subprocess
import sys
from pathlib import Path

from tests.conftest import TORCH_MISSING

ROOT = Path(__file__).resolve().parents[1]
RUN_PYTEST_WITHOUT_TORCH = (
    "import sys; sys.modules['torch'] = None\n"  # `import torch` raises ImportError, find_spec finds nothing
    "import pytest; raise SystemExit(pytest.main(sys.argv[1:]))\n"
)


def test_a_missing_torch_fails_the_run_with_one_message():
    out = subprocess.run(
        [sys.executable, "-c", RUN_PYTEST_WITHOUT_TORCH, "-q", "-p", "no:cacheprovider",
         "tests/engine/test_jacobian.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 4, out.stdout + out.stderr  # pytest's usage error, never 0
    assert out.stdout.count(TORCH_MISSING) + out.stderr.count(TORCH_MISSING) == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert "passed" not in out.stdout and "skipped" not in out.stdout


def test_the_tests_have_no_way_to_skip_without_torch():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                 if 'importorskip("torch")' in p.read_text() and p.name != Path(__file__).name]
    assert offenders == []
