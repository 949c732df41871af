"""The bundled scenarios are real files inside the package: a checkout without symlinks, or a regular
(non-editable) install, must still find every one of them, or every test parametrized over
`bundled()` would silently collect nothing."""
from __future__ import annotations

import subprocess
import sys
import zipfile

from rnntui.scenario.bundled import SCENARIO_DIR, bundled

# the lecture's topics each have one; fewer than this means the folder was not found or was emptied
AT_LEAST = 25


def test_bundled_folder_is_real_and_full():
    assert not SCENARIO_DIR.is_symlink(), "rnntui/bundled must be a folder, not a link"
    names = bundled()
    assert len(names) >= AT_LEAST, f"only {len(names)} bundled scenarios found in {SCENARIO_DIR}"
    for name in ("vanishing-gradient", "exploding-gradient", "bilstm-apple", "cnn-digit"):
        assert name in names


def test_wheel_ships_scenarios_and_weights_but_no_training_script(tmp_path):
    root = SCENARIO_DIR.parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(root)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("rnntui-*.whl"))
    files = zipfile.ZipFile(wheel).namelist()
    yamls = [f for f in files if f.startswith("rnntui/bundled/") and f.endswith(".yaml")]
    assert len(yamls) == len(bundled())
    assert "rnntui/bundled/reverse-weights.safetensors" in files
    for name in ("bilstm-apple", "lstm-apple", "brnn-apple", "rnn-apple"):  # made by tools/make_apple.py
        assert f"rnntui/bundled/{name}.safetensors" in files
    assert "rnntui/bundled/apple-vocab.txt" in files  # the apple scenarios' vocabulary
    assert not [f for f in files if f.endswith(("make_reverse.py", "make_apple.py"))]
