"""Writing family: exports onto what is not a regular file, into places that cannot take a file, past
limits, or interrupted. Nothing is renamed over a device, the mode of a replaced file is kept, new files
follow the umask, and every failure is one line with no temporary file left."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnntui.atomic import atomic_write
from rnntui.errors import ExportError

from tests.hostile.common import invoke, refused


def _leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_device_node_is_written_through_not_replaced(tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.stat("/dev/null").st_rdev)
    result = invoke("export", "rnn-sine", "-o", str(null), "--format", "npz")
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(null).st_mode) and not _leftovers(tmp_path)


def test_a_link_to_stdout_stays_a_link_and_gets_the_data(tmp_path):
    link = tmp_path / "out"
    os.symlink("/proc/self/fd/1", link)
    proc = subprocess.run([sys.executable, "-m", "rnntui", "export", "rnn-sine", "-o", str(link), "--format", "npz"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:2] == b"PK" and os.path.islink(link)  # the trace went to stdout; "wrote" to stderr


def test_a_fifo_without_reader_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    lines = refused(invoke("export", "rnn-sine", "-o", str(fifo), "--format", "npz"))
    assert "no process is reading this pipe" in lines[0] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_link_to_a_file_replaces_the_file_and_keeps_the_link(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    os.symlink("real.txt", tmp_path / "link.txt")
    with atomic_write(tmp_path / "link.txt", "w") as f:
        f.write("new")
    assert os.path.islink(tmp_path / "link.txt") and (tmp_path / "real.txt").read_text() == "new"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(existing=st.one_of(st.none(), st.integers(0o400, 0o777)), umask=st.integers(0, 0o777))
def test_modes_kept_on_replace_and_from_the_umask_when_new(tmp_path_factory, existing, umask):
    path = tmp_path_factory.mktemp("mode") / "out.txt"
    if existing is not None:
        path.write_text("old")
        os.chmod(path, existing)
    old = os.umask(umask)
    try:
        with atomic_write(path, "w") as f:
            f.write("new")
    finally:
        os.umask(old)
    want = existing if existing is not None else 0o666 & ~umask
    assert stat.S_IMODE(os.stat(path).st_mode) == want and path.read_text() == "new"


@pytest.mark.parametrize("target,said", [
    ("/proc/x.npz", "files cannot be created in this folder"),
    ("/sys/x.npz", "cannot write there"),
    ("{tmp}/" + "n" * 300 + ".npz", "the file name is 304 bytes long; expected at most 255"),
])
def test_places_that_cannot_take_a_file(tmp_path, target, said):
    lines = refused(invoke("export", "rnn-sine", "-o", target.format(tmp=tmp_path), "--format", "npz"))
    assert len(lines) == 1 and said in lines[0]


def test_a_250_character_name_is_written(tmp_path):
    out = tmp_path / ("n" * 246 + ".npz")
    assert invoke("export", "rnn-sine", "-o", str(out)).exit_code == 0 and out.exists()
    assert not _leftovers(tmp_path)


def test_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)], capture_output=True).returncode:
        pytest.skip("needs a read-only bind mount (root and mount)")
    try:
        lines = refused(invoke("export", "rnn-sine", "-o", str(ro / "t.npz")))
        assert "the file system is read-only" in lines[0]
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def _child(tmp_path, body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(body).format(out=str(tmp_path / "out.npz"))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_file_size_limit_is_one_line_and_leaves_nothing(tmp_path):
    proc = _child(tmp_path, """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from rnntui.cli import main
        sys.argv = ["rnntui", "export", "rnn-sine", "-o", "{out}"]
        main()
    """)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "larger than allowed" in proc.stderr
    assert os.listdir(tmp_path) == []


def test_sigterm_during_a_write_removes_the_temporary_file(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys, time
        from rnntui.atomic import atomic_write
        with atomic_write({str(tmp_path / 'out.bin')!r}) as f:
            f.write(b"half")
            print("writing", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert len(os.listdir(tmp_path)) == 1  # the temporary file is there while writing
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == []


def test_full_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("needs a small tmpfs (root and mount)")
    try:
        lines = refused(invoke("export", "rnn-sine", "-o", str(mnt / "t.npz")))
        assert "no space left on the device" in lines[0] and os.listdir(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_export_error_from_any_oserror(tmp_path, monkeypatch):
    import errno

    def full(*a, **k):
        raise OSError(errno.EDQUOT, "quota")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ExportError, match="quota is exceeded"):
        with atomic_write(tmp_path / "x", "w") as f:
            f.write("x")
    assert os.listdir(tmp_path) == []
