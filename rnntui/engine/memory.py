"""How much memory a run may use: what the system can give without swapping (every layer's default limit is
half of it)."""
from __future__ import annotations


def available_memory() -> int:
    """The memory the system can give without swapping (psutil's `available`, on every platform psutil
    supports); the default limits are half of it."""
    import psutil

    return int(psutil.virtual_memory().available)
