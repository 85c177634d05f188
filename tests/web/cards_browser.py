"""Headless Chromium for the page tests: a live server in a thread, a screenshot, the DOM."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,900",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 and a free port (port 0: the OS picks), in a daemon thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _run(chromium: str, profile: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def screenshot(chromium: str, url: str, png: Path, profile: Path, *, height: int = 900) -> None:
    result = _run(chromium, profile, f"--screenshot={png}", f"--window-size=1280,{height}", url)
    if not png.exists():
        raise AssertionError(f"chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-2000:]}")


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    result = _run(chromium, profile, "--dump-dom", url)
    if result.returncode != 0:
        raise AssertionError(f"chromium --dump-dom failed (exit {result.returncode}): {result.stderr[-2000:]}")
    return result.stdout
