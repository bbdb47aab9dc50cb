"""The browser view: the cockpit served to a browser by textual-serve, behind a token.

Each browser that opens the page gets its own cockpit process (``command``: a read-only
``cockpit observe ...`` or ``cockpit review ...``) wired to the page's terminal over a
websocket. Everything (the page, its script and fonts, the websocket) needs the access token:
in the URL (``?token=``) or in the cookie the page sets once it was given in the URL. The
page is the project's own (``serve.html``): it loads nothing from another host, and says
what is shown and that it is read-only, in its title and in a banner above the terminal.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web
from textual_serve.server import Server

PAGE = Path(__file__).with_name("serve.html")
REFUSED = ("403 Forbidden: this cockpit view needs its access token: open the URL that "
           "`cockpit serve` printed (it ends with ?token=...).\n")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ObserverServer(Server):
    """textual-serve's server with an access token, the project's page, no downloads, and
    optional TLS. ``what``: what is shown (``INCIDENT 2026...``), for the title and banner."""

    def __init__(self, command: str, *, host: str, port: int, token: str, what: str,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(command, host=host, port=port, title=f"DR Cockpit · {what}")
        self.token = token
        self.what = what
        self.ssl_context = ssl_context
        self.cookie = f"cockpit_token_{port}"  # cookies are per host, not per port
        self.page = Template(PAGE.read_text(encoding="utf-8"))

    # ------------------------------------------------------------ the gate
    def allowed(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(self.cookie) or ""
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())

    @web.middleware
    async def gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.allowed(request):
            return web.Response(status=403, text=REFUSED,
                                headers={"Cache-Control": "no-store"})
        response = await handler(request)
        if not response.prepared:  # a websocket is already under way
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate])
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.static("/static", self.statics_path, name="static"),
        ])
        return app

    # ------------------------------------------------------------ the page
    async def handle_index(self, request: web.Request) -> web.Response:
        scheme = "wss" if self.ssl_context is not None else "ws"
        what = html.escape(self.what)
        body = self.page.substitute(
            title=html.escape(f"DR Cockpit · {self.what} · READ-ONLY"),
            what=what,
            ws_url=html.escape(f"{scheme}://{request.host}/ws", quote=True),
            font_size=16,
        )
        response = web.Response(text=body, content_type="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'")
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict",
                            secure=self.ssl_context is not None, path="/")
        return response

    # ------------------------------------------------------------ running
    def initialize_logging(self) -> None:
        """Warnings only, without a traceback's locals."""
        logging.basicConfig(level=logging.WARNING, format="cockpit serve: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        return None  # the command printed what it serves and where

    def serve(self, debug: bool = False, announce: Callable[[], None] = lambda: None) -> None:
        """Bind (an ``OSError`` when the address is taken), then ``announce()`` (the URL is
        printed only once it is served), then serve until SIGINT or SIGTERM; every browser's
        cockpit is stopped on the way out."""
        self.debug = False
        self.initialize_logging()
        asyncio.run(self._serve(announce))

    async def _serve(self, announce: Callable[[], None]) -> None:
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
            await site.start()
            announce()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()


def make_server(command: str, **kw: Any) -> ObserverServer:
    return ObserverServer(command, **kw)
