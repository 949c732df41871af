"""`rnntui serve`, driven by real HTTP and websocket clients on 127.0.0.1: the token and the Host/Origin
checks, the session limit, clamped sizes, sessions that end with their socket and with the server, and
one line for what cannot be served."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import aiohttp
import pytest

from rnntui.tui import serve as serve_mod
from rnntui.tui.serve import MAX_HEIGHT, MAX_WIDTH, RnntuiServer

RNNTUI = str(Path(sys.executable).parent / "rnntui")
BUNDLED = Path(__file__).resolve().parent.parent / "rnntui" / "bundled"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def processes(marker: str) -> list[int]:
    """Processes whose command line holds *marker* (a path unique to the test)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie has ended
        except OSError:
            continue
        if any(marker.encode() in part for part in cmd):
            found.append(int(pid))
    return found


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


async def eventually(predicate, timeout: float) -> bool:
    """*predicate* polled while this event loop (and a server in it) runs."""
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        await asyncio.sleep(0.05)
    return predicate()


class Served:
    """`rnntui serve` in a subprocess on 127.0.0.1 and a free port; the URL it printed."""

    def __init__(self, scenario: str, *args: str):
        self.proc = subprocess.Popen([RNNTUI, "serve", scenario, "--host", HOST, "--port", str(_free_port()), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"at (http://\S+)", line)
        if not m:
            self.proc.kill()
            pytest.fail(f"no URL printed: {line!r} {self.proc.stderr.read()}")
        self.url = m.group(1)
        self.base = self.url.split("?")[0].rstrip("/")
        self.token = self.url.split("token=")[1]
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return code, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),  # a cookie for 127.0.0.1
                                 timeout=aiohttp.ClientTimeout(total=30))


async def screen(ws, needle: bytes = b"", timeout: float = 20) -> bytes:
    """What the session drew, until *needle* shows (or the time is up)."""
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and (not data or needle not in data):
        try:
            msg = await ws.receive(timeout=max(0.1, end - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.BINARY:
            data += msg.data
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            break
    return data


@pytest.fixture
def scenario(tmp_path):
    """bptt under a name no other process has: its sessions are found by it."""
    path = tmp_path / f"served-{os.getpid()}-{time.monotonic_ns()}.yaml"
    shutil.copy(BUNDLED / "bptt.yaml", path)
    return path


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_http_with_its_token_and_stops(stop, scenario):
    served = Served(str(scenario))
    try:
        async def go():
            async with client() as http:
                for url in (served.base + "/", served.base + "/?token=wrong", served.base + "/static/js/textual.js",
                            served.base + "/download/x"):
                    async with http.get(url) as r:
                        assert r.status == 403, url
                async with http.get(served.url) as r:
                    assert r.status == 200
                    page = await r.text()
                    assert f"rnntui-token-{served.port}" in r.headers["Set-Cookie"]
                    assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
                # the page's own files come with the cookie it set
                async with http.get(served.base + "/static/js/textual.js") as r:
                    assert r.status == 200
                return page
        page = asyncio.run(go())
        assert f"rnntui: {scenario}" in page and "<html" in page.lower()
        assert f'data-session-websocket-url="ws://{HOST}:{served.port}/ws"' in page
        code, err = served.stop(stop)
        assert code == 0 and "Traceback" not in err and "Event loop is closed" not in err
    finally:
        served.kill()


def test_a_foreign_page_cannot_drive_the_debugger(scenario):
    """Another origin, a rebound host name or a missing token: 403, no session; the page's own origin with
    the token: the screen, and keys reach the debugger."""
    served = Served(str(scenario))
    own = f"http://{HOST}:{served.port}"
    try:
        async def go():
            async with client() as http:
                refused = [
                    dict(url=f"{served.base}/ws?token={served.token}", headers={"Origin": "http://evil.example"}),
                    dict(url=f"{served.base}/ws?token={served.token}", headers={"Origin": "null"}),
                    dict(url=f"{served.base}/ws?token={served.token}", headers={"Origin": f"http://{HOST}:1"}),
                    dict(url=f"{served.base}/ws?token={served.token}",
                         headers={"Host": f"evil.example:{served.port}", "Origin": f"http://evil.example:{served.port}"}),
                    dict(url=f"{served.base}/ws", headers={"Origin": own}),
                    dict(url=f"{served.base}/ws?token={served.token[:-1]}", headers={"Origin": own}),
                ]
                for case in refused:
                    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                        async with http.ws_connect(case["url"], headers=case["headers"]):
                            pass
                    assert err.value.status == 403, case
                assert processes(str(scenario)) == [served.proc.pid]  # no session started
                # as the browser does: the page with the token, then the websocket with the cookie it set
                async with http.get(served.url, headers={"Origin": own}) as r:
                    assert r.status == 200
                async with http.ws_connect(f"{served.base}/ws?width=100&height=30", headers={"Origin": own}) as ws:
                    drawn = await screen(ws, b"step 1 of 12")
                    sessions = [p for p in processes(str(scenario)) if p != served.proc.pid]
                    assert len(sessions) == 1
                    assert b"forward pass" in drawn and b"step 1 of 12" in drawn
                    await ws.send_str(json.dumps(["stdin", "?"]))  # a key: the help screen opens
                    assert b"Escape or ? closes this help" in await screen(ws, b"closes this help")
                    # a server killed outright (SIGKILL: no cleanup) takes its session with it
                    served.kill()
                    assert await asyncio.to_thread(wait_for, lambda: not processes(str(scenario)), 5)
        asyncio.run(go())
    finally:
        served.kill()


def test_sessions_are_capped_and_end_with_socket_and_server(scenario):
    served = Served(str(scenario), "--max-sessions", "2")
    own = f"http://{HOST}:{served.port}"
    try:
        def sessions():
            return [p for p in processes(str(scenario)) if p != served.proc.pid]

        async def go():
            async with client() as http:
                async with http.get(served.url) as r:
                    assert r.status == 200
                first = await http.ws_connect(f"{served.base}/ws", headers={"Origin": own})
                second = await http.ws_connect(f"{served.base}/ws", headers={"Origin": own})
                assert await screen(first, b"step") and await screen(second, b"step")
                assert len(sessions()) == 2
                async with http.ws_connect(f"{served.base}/ws", headers={"Origin": own}) as third:
                    said = await screen(third)
                    assert b"2 sessions are open" in said and b"--max-sessions 2" in said
                    assert third.closed or (await third.receive(timeout=5)).type in (
                        aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert len(sessions()) == 2
                await first.close()
                assert await asyncio.to_thread(wait_for, lambda: len(sessions()) == 1, 10)
                return second
        second = asyncio.run(go())
        code, err = served.stop(signal.SIGTERM)
        assert code == 0 and "Traceback" not in err and "Event loop is closed" not in err
        assert sessions() == []
        del second
    finally:
        served.kill()


def test_what_cannot_be_served_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: []\n")
    result = subprocess.run([RNNTUI, "serve", str(bad), "--host", HOST, "--port", str(_free_port())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "bad.yaml" in result.stderr and "Traceback" not in result.stderr
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([RNNTUI, "serve", "bptt", "--host", HOST, "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"rnntui: serve error: cannot listen on {HOST}:{port}: address already in use"
    result = subprocess.run([RNNTUI, "serve", "bptt", "--host", "no-such-host.invalid", "--port", "8000"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 2
    assert "cannot listen on no-such-host.invalid:8000: unknown host" in result.stderr  # after the warning line


# --- the server in this process, with a stand-in session that records what it is sent -----------------

FAKE = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    log, mode = sys.argv[1], sys.argv[2]
    sys.stdout.write("__GANGLION__\\n"); sys.stdout.flush()
    if mode == "busy":   # reads nothing, ignores SIGTERM, and started a child of its own
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        subprocess.Popen([sys.executable, "-c", "import time, signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "time.sleep(600)", log])
        while True:
            time.sleep(1)
    inp = sys.stdin.buffer
    with open(log, "a") as out:
        while True:
            head = inp.read(5)
            if len(head) < 5:
                break
            payload = inp.read(int.from_bytes(head[1:], "big"))
            out.write(json.dumps([head[:1].decode(), payload.decode()]) + "\\n"); out.flush()
            if head[:1] == b"M" and json.loads(payload)["type"] == "quit":
                break
""")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.setattr(serve_mod, "QUIT_GRACE", 0.5)
    script = tmp_path / "fake_session.py"
    script.write_text(FAKE)
    log = tmp_path / f"log-{time.monotonic_ns()}.jsonl"

    def make(mode: str, max_sessions: int = 2) -> RnntuiServer:
        return RnntuiServer([sys.executable, str(script), str(log), mode], host=HOST, port=0,
                            max_sessions=max_sessions, token="t0ken")
    make.log = log
    return make


async def _open(server: RnntuiServer, http, query: str = ""):
    url = await server.start() if server.runner is None else server.url(server.port)
    base = url.split("?")[0].rstrip("/")
    return await http.ws_connect(f"{base}/ws?token=t0ken{query}")


async def test_sizes_are_clamped_and_bad_messages_ignored(fake):
    server = fake("record")
    try:
        async with client() as http:
            ws = await _open(server, http, "&width=100000&height=100000")
            await ws.send_str("not json")
            await ws.send_str(json.dumps({"not": "a list"}))
            await ws.send_str(json.dumps(["resize", {"width": "x", "height": None}]))
            await ws.send_str(json.dumps(["resize", {"width": 100000, "height": 100000}]))
            await ws.send_str(json.dumps(["resize", {"width": -5, "height": 0}]))
            await ws.send_str(json.dumps(["stdin", "q"]))
            assert await asyncio.to_thread(wait_for, lambda: fake.log.exists() and '"q"' in fake.log.read_text(), 20)
            with pytest.raises(aiohttp.ClientError):  # above 64 KiB: the socket is closed
                await ws.send_str(json.dumps(["stdin", "x" * 100_000]))
                await ws.receive(timeout=5)
                await ws.send_str(json.dumps(["stdin", "x"]))
                await asyncio.sleep(0.5)
                await ws.send_str(json.dumps(["stdin", "x"]))
            await ws.close()
        assert await asyncio.to_thread(wait_for, lambda: "quit" in fake.log.read_text(), 10)
        got = [json.loads(line) for line in fake.log.read_text().splitlines()]
        sizes = [json.loads(p) for k, p in got if k == "M" and json.loads(p)["type"] == "resize"]
        assert sizes == [{"type": "resize", "width": 80, "height": 24},
                         {"type": "resize", "width": MAX_WIDTH, "height": MAX_HEIGHT},
                         {"type": "resize", "width": 1, "height": 1}]
        assert ["D", "q"] in got
        assert await eventually(lambda: not server.sessions, 5)
    finally:
        await server.stop()


async def test_a_session_that_does_not_quit_is_killed_with_its_group(fake):
    """A session busy computing (it reads nothing and ignores SIGTERM, and its child too) ends with its
    socket; two more end with the server."""
    server = fake("busy")
    marker = str(fake.log)
    try:
        async with client() as http:
            ws = await _open(server, http, "&width=80&height=24")
            assert await asyncio.to_thread(wait_for, lambda: len(processes(marker)) == 2, 10)  # it and its child
            for _ in range(50):   # keys it never reads: dropped past a bound, never blocking the server
                await ws.send_str(json.dumps(["stdin", "x" * 60_000]))
            await ws.close()
            assert await asyncio.to_thread(wait_for, lambda: processes(marker) == [], 5)
            assert await eventually(lambda: not server.sessions, 5)
            a, b = await _open(server, http), await _open(server, http)
            assert await asyncio.to_thread(wait_for, lambda: len(processes(marker)) == 4, 10)
            await server.stop()
            assert processes(marker) == []
            assert a.closed or (await a.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            del b
    finally:
        await server.stop()
        for pid in processes(marker):
            os.kill(pid, signal.SIGKILL)


def test_sizes_from_the_browser_are_whole_numbers_in_range():
    clamp = serve_mod.clamp
    assert [clamp(v, 1, 500, 80) for v in ("120", "0", "100000", "-3", "1e9", "", "9" * 400, True, 3.5, None, 42)] \
        == [120, 1, 500, 80, 80, 80, 80, 80, 80, 80, 42]
