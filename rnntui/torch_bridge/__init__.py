"""From a PyTorch module to an rnntui run: `rnntui.from_torch(module, x)` and `rnntui.debug(module, x)`.

The module's forward is traced with torch.fx (graph.py: torch.nn's recurrent, embedding, linear, conv,
pooling, flatten, dropout and activation modules are leaves), the graph is read as a chain of rnntui
entries (chain.py, leaves.py), written as one self-contained scenario text with the module's weights
and the input inline (text.py), and that text goes through the normal loader and engine run
(bridge.py): one path for a scenario file and a module. The run's output is checked against the
module's own before the trace is returned.

Nothing here is imported by `import rnntui`: torch is imported when `from_torch` is called.
"""
from __future__ import annotations

from rnntui.errors import RnntuiError


class FromTorchError(RnntuiError):
    """A module (or an input, a target, a loss) that rnntui cannot run as it stands."""

    title = "from_torch error"


def import_torch():
    """torch, or a clear error saying that from_torch needs it."""
    try:
        import torch
    except ImportError:
        raise FromTorchError("rnntui.from_torch and rnntui.debug need PyTorch, which is not installed "
                             "(pip install torch); scenario files run without it") from None
    return torch


__all__ = ["FromTorchError", "import_torch"]
