"""`rnntui serve`: textual-serve's server, made safe to leave running on a machine with a web browser.

What it adds to textual-serve (docs/debugger.md, "Serving in a browser"):

- a token: every route (the page, its static files, the websocket, downloads) answers 403 without it.
  `serve` prints the URL with `?token=...`; the page sets it as a cookie (HttpOnly, SameSite=Strict,
  named after the port) that its own static files and websocket then send. Compared in constant time.
- the Host and Origin headers: a request must name the served address (any loopback name when serving
  on one; another page's `Origin`, or a DNS name rebound to this machine, is refused).
- limits: at most `max_sessions` sessions at once (one more is told so on its screen and closed), terminal
  sizes clamped to MAX_WIDTH x MAX_HEIGHT, messages of at most 64 KiB, and input dropped rather than
  queued without bound while a session does not read it.
- sessions that end: each runs in its own process group (no shell) and is asked to quit when its socket
  closes, then terminated and killed if it has not ended within a few seconds; stopping the server (Ctrl+C,
  SIGTERM) ends every session the same way before the server exits.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from rnntui.errors import RnntuiError

MAX_WIDTH, MAX_HEIGHT = 500, 200   # a 4K screen at an 8-pixel font is 480 x 135 cells
MAX_MESSAGE = 64 * 1024            # bytes in one websocket message (keys, a resize)
MAX_PENDING = 1 << 20              # bytes of input queued for a session that is not reading it
QUIT_GRACE = 2.0                   # seconds a session has to quit before it is terminated, then as long to end
DEFAULT_MAX_SESSIONS = 4
LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARD = ("0.0.0.0", "::", "")
BUSY = "rnntui serve: {n} sessions are open, the most this server allows (--max-sessions {n}).\r\n" \
       "Close one, then press Restart.\r\n"


class ServeError(RnntuiError):
    title = "serve error"


def clamp(value: Any, low: int, high: int, default: int) -> int:
    """A terminal dimension from the browser: a whole number in [low, high] (default: not a number)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 9:
            return default
        value = int(value)
    if not isinstance(value, int):
        return default
    return max(low, min(high, value))


def _authority(host: str, port: int) -> str:
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _parse_authority(netloc: str, scheme: str) -> str | None:
    """'LocalHost:8000' -> 'localhost:8000', '[::1]' -> '[::1]:80' (None: not a host and port)."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port or {"http": 80, "https": 443}[scheme]
    except (ValueError, KeyError):
        return None
    if not parts.hostname or parts.username is not None or parts.path or parts.query:
        return None
    return _authority(parts.hostname, port)


def _die_with_parent() -> None:
    """In the session's process, before it runs: on Linux, SIGKILL when the server dies, even killed
    with SIGKILL itself (a session's input closing does not end a Textual app)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Session(AppService):
    """One browser session: `rnntui run` started without a shell, in a process group of its own, so that
    ending the session ends everything it started."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self._stopping = False

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width=width, height=height),
            start_new_session=True, preexec_fn=_die_with_parent)
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def pending(self) -> int:
        """Bytes written to the session's input that it has not read yet."""
        transport = self._stdin.transport if self._stdin is not None else None
        return 0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()

    def write_packet(self, kind: bytes, payload: bytes) -> bool:
        """Queue a packet without waiting for the session to read it: dropped (False) while more than
        MAX_PENDING bytes wait, so a busy session never stalls the server or its socket."""
        if self._stdin is None or self.pending() > MAX_PENDING:
            return False
        try:
            self._stdin.write(self.encode_packet(kind, payload))
        except (RuntimeError, ConnectionError):
            return False
        return True

    async def send_bytes(self, data: bytes) -> bool:
        return self.write_packet(b"D", data)

    async def send_meta(self, data: dict) -> bool:
        return self.write_packet(b"M", json.dumps(data).encode("utf-8"))

    async def set_terminal_size(self, width: int, height: int) -> None:
        await self.send_meta({"type": "resize", "width": clamp(width, 1, MAX_WIDTH, 80),
                              "height": clamp(height, 1, MAX_HEIGHT, 24)})

    def _group_alive(self) -> bool:
        """Whether the session's process group still has a member. Only then is its number certainly still
        the session's: once the leader is reaped and the group empty, the number can be another process's."""
        pgid = self._process.pid
        if self._process.returncode is None:   # not reaped: the leader holds the number
            return True
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[2]) == pgid:
                            return True
                except (OSError, ValueError, IndexError):
                    continue
        return False

    def _signal_group(self, sig: int) -> None:
        if self._process is None or not self._group_alive():
            return
        try:
            os.killpg(self._process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def stop(self) -> None:
        """Ask the session to quit; terminate its process group if it has not ended after QUIT_GRACE
        seconds and kill it after as long again; then wait for it (never longer than that). Once."""
        if self._stopping:
            return
        self._stopping = True
        task, self._task = self._task, None
        process = self._process
        if process is None:
            return
        try:
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        except Exception:  # a download's bookkeeping must not keep a session alive
            pass
        if process.returncode is None:
            await self.send_meta({"type": "quit"})
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                self._signal_group(sig)
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), QUIT_GRACE)
                break
            except asyncio.TimeoutError:
                continue
        self._signal_group(signal.SIGKILL)  # anything the session started and left in its group
        if self._stdin is not None:
            self._stdin.close()
        if task is not None:
            try:
                await asyncio.wait_for(task, QUIT_GRACE)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass


class RnntuiServer(Server):
    """textual-serve's Server with a token, Host and Origin checks, a session limit and sessions that end."""

    def __init__(self, argv: list[str], host: str = "localhost", port: int = 8000, title: str | None = None,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, token: str | None = None) -> None:
        super().__init__(" ".join(argv), host=host, port=port, title=title)
        self.argv = argv
        self.max_sessions = max_sessions
        self.token = token or secrets.token_urlsafe(32)
        self.sessions: set[Session] = set()
        self.runner: web.AppRunner | None = None

    # --- who may ask -------------------------------------------------------------------------------
    @property
    def cookie(self) -> str:
        return f"rnntui-token-{self.port}"

    def allowed(self) -> set[str] | None:
        """The Host / Origin authorities that name this server (None: serving on every address, where
        only a same-origin check is possible)."""
        if self.host in WILDCARD:
            return None
        names = LOOPBACK if self.host.lower() in LOOPBACK else (self.host,)
        return {_authority(name, self.port) for name in names}

    def _host_ok(self, host: str | None) -> bool:
        authority = _parse_authority(host or "", "http")
        allowed = self.allowed()
        return authority is not None and (allowed is None or authority in allowed)

    def _origin_ok(self, origin: str | None, host: str) -> bool:
        if origin is None:   # not a browser (a browser always sends one on a websocket)
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        authority = _parse_authority(parts.netloc, parts.scheme) if parts.scheme in ("http", "https") else None
        allowed = self.allowed()
        if authority is None:
            return False
        return authority == _parse_authority(host, "http") if allowed is None else authority in allowed

    def _token_ok(self, request: web.Request) -> tuple[bool, bool]:
        """(whether the request carries the token, whether it came in the URL)."""
        given = request.query.get("token")
        if given is not None:
            return secrets.compare_digest(given.encode(), self.token.encode()), True
        given = request.cookies.get(self.cookie)
        return given is not None and secrets.compare_digest(given.encode(), self.token.encode()), False

    @web.middleware
    async def guard(self, request: web.Request, handler):
        if not self._host_ok(request.headers.get("Host")):
            raise web.HTTPForbidden(text="rnntui serve: this server answers only at the address it serves\n")
        if not self._origin_ok(request.headers.get("Origin"), request.headers.get("Host", "")):
            raise web.HTTPForbidden(text="rnntui serve: a page from another origin may not use this server\n")
        ok, in_url = self._token_ok(request)
        if not ok:
            raise web.HTTPForbidden(text="rnntui serve: open the URL that `rnntui serve` printed, with its token\n")
        response = await handler(request)
        if in_url and request.path == "/" and isinstance(response, web.Response):
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        return response

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=MAX_MESSAGE)
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, with its static files and websocket at the address the browser used (its cookie
        holds the token, and a cookie is sent only to the host it was set by)."""
        base = f"{request.host}"
        return {"font_size": clamp(request.query.get("fontsize", "16"), 6, 64, 16),
                "app_websocket_url": f"ws://{base}/ws",
                "config": {"static": {"url": f"http://{base}/static/"}},
                "application": {"name": self.title}}

    # --- sessions ----------------------------------------------------------------------------------
    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: Session) -> None:
        """The browser's messages; anything malformed is ignored (it never ends the session with a
        traceback in the server's log)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(data.get("width"), data.get("height"))
            elif kind == "ping" and isinstance(data, (str, int, float)):
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE)
        if len(self.sessions) >= self.max_sessions:
            await websocket.prepare(request)
            await websocket.send_bytes(BUSY.format(n=self.max_sessions).encode())
            await websocket.close(code=1013, message=b"too many sessions")  # 1013: try again later
            return websocket
        session = Session(self.argv, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                          close=websocket.close, download_manager=self.download_manager)
        self.sessions.add(session)  # counted before the first await: a burst of connections sees it
        reader: asyncio.Task | None = None
        try:
            await websocket.prepare(request)
            await session.start(clamp(request.query.get("width", "80"), 1, MAX_WIDTH, 80),
                                clamp(request.query.get("height", "24"), 1, MAX_HEIGHT, 24))
            reader = asyncio.create_task(self._process_messages(websocket, session))
            # the session ends with its socket, and the socket with its session
            await asyncio.wait({reader, session._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if reader is not None:
                reader.cancel()
            await session.stop()
            self.sessions.discard(session)
            if not websocket.closed:
                await websocket.close()
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        """Every session ends with the server."""
        await asyncio.gather(*(session.stop() for session in list(self.sessions)), return_exceptions=True)

    # --- running -----------------------------------------------------------------------------------
    def url(self, port: int) -> str:
        host = socket.gethostname() if self.host in WILDCARD else self.host
        return f"http://{_authority(host, port)}/?token={self.token}"

    async def start(self) -> str:
        """Listen; the URL to open. A port in use or an unknown host: ServeError, nothing left open."""
        self.runner = web.AppRunner(await self._make_app(), handle_signals=False, access_log=None,
                                    shutdown_timeout=2 * QUIT_GRACE + 1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self.runner.cleanup()
            if isinstance(exc, socket.gaierror):
                reason = f"unknown host ({exc.strerror or exc})"
            else:
                reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ServeError(f"cannot listen on {_authority(self.host, self.port)}: {reason}") from None
        if self.port == 0:
            self.port = self.runner.addresses[0][1]
        return self.url(self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def run(self, announce) -> None:
        """Serve until SIGINT or SIGTERM; then end every session and return."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            announce(await self.start())
            await stop.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def serve(self, announce=print) -> None:  # type: ignore[override]
        asyncio.run(self.run(announce))


__all__ = ["DEFAULT_MAX_SESSIONS", "MAX_HEIGHT", "MAX_WIDTH", "RnntuiServer", "ServeError", "Session", "clamp"]
