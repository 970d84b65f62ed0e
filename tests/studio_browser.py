"""Serving the studio on a free loopback port and driving it in Debian's headless Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app under uvicorn in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the studio did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium(locale: str, seen: list[str], problems: list[str], width: int = 1280) -> Iterator[Any]:
    """A page in headless Chromium; every URL it requests is appended to ``seen``, every
    console error (a refused load, a policy violation) and script error to ``problems``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(locale=locale, viewport={"width": width, "height": 900})
            context.on("request", lambda r: seen.append(r.url))
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.set_default_timeout(120_000)
            yield page
        finally:
            browser.close()


def hosts(urls: list[str]) -> set[str]:
    return {urlsplit(u).hostname or u for u in urls if not u.startswith(("data:", "blob:"))}


def cjk_font_loaded(page: Any) -> bool:
    """The packaged Noto Sans CJK was fetched and accepted by the browser."""
    return bool(
        page.evaluate(
            """async () => { await document.fonts.ready;
            return [...document.fonts].some(f => f.family.includes('Studio CJK')
                                                 && f.status === 'loaded'); }"""
        )
    )
