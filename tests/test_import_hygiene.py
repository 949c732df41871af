"""The engine and the scenario layer are usable without the UI (no textual, rich or typer) and without
torch, which only the tests and `rnntui.from_torch` need."""
import subprocess
import sys


def test_core_imports_no_ui():
    code = (
        "import sys, rnntui, rnntui.engine, rnntui.scenario\n"
        "t = rnntui.run('vanishing-gradient'); t['diag.nonfinite.first_step']\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'typer', 'torch'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "", f"UI modules or torch imported: {out.stdout}"


def test_cli_help_imports_no_numpy():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom rnntui.cli import app\n"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'textual', 'pydantic'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
