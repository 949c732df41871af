"""Special files family: a scenario must be a regular file of at most 16 MiB. Devices, FIFOs, sockets,
folders and links to any of them are refused at once, before they are read (made at test time)."""
from __future__ import annotations

import os
import socket
import stat
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.common import invoke, refused

KINDS = ["zero", "urandom", "null", "fifo", "socket", "folder", "big"]


def make(kind: str, where) -> str:
    path = where / f"{kind}.yaml"
    if kind in ("zero", "urandom", "null"):
        dev = os.stat(f"/dev/{kind}").st_rdev
        try:
            os.mknod(path, stat.S_IFCHR | 0o644, dev)
        except PermissionError:
            os.symlink(f"/dev/{kind}", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif kind == "folder":
        path.mkdir()
    elif kind == "big":
        with open(path, "wb") as f:
            f.truncate((16 << 20) + 1)  # sparse: costs no disk
    return str(path)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), link=st.booleans(), command=st.sampled_from(["validate", "show", "run"]))
def test_special_files_are_refused_at_once(tmp_path_factory, kind, link, command):
    where = tmp_path_factory.mktemp("special")
    path = make(kind, where)
    if link:
        os.symlink(path, where / "link.yaml")
        path = str(where / "link.yaml")
    start = time.perf_counter()
    lines = refused(invoke(command, path))
    assert time.perf_counter() - start < 2
    assert len(lines) == 1 and f"{path}: is " in lines[0], lines
    assert "expected a scenario file" in lines[0] or "16 MiB" in lines[0]


@pytest.mark.parametrize("dev", ["zero", "urandom"])
def test_system_devices(dev):
    lines = refused(invoke("validate", f"/dev/{dev}"))
    assert lines == [f"rnntui: scenario error: /dev/{dev}: is a character device; expected a scenario file (YAML text)"]


@pytest.mark.parametrize("kind", ["zero", "fifo", "folder"])
def test_trace_paths_that_are_not_files(tmp_path, kind):
    path = make(kind, tmp_path)
    os.rename(path, tmp_path / "t.npz")
    lines = refused(invoke("show", str(tmp_path / "t.npz")))
    assert "is not a regular file" in lines[0]


def test_read_regular_reads_the_whole_file_up_to_the_limit(tmp_path):
    """The read takes the file's own size (not a buffer of the limit): a file of the limit reads whole, one byte
    more is refused."""
    from rnntui.scenario.yaml_source import _NotRegular, read_regular

    p = tmp_path / "s.yaml"
    p.write_bytes(b"x" * 100)
    assert read_regular(p, "a scenario file", limit=100) == b"x" * 100
    p.write_bytes(b"x" * 101)
    with pytest.raises(_NotRegular, match="larger than"):
        read_regular(p, "a scenario file", limit=100)
