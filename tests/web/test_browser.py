"""The dashboard and a card in a real headless Chromium (Debian's, from scripts/ensure-chromium.sh)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepwise.store import Store
from stepwise.web.app import create_app
from tests.web.cards_browser import dump_dom, find_chromium, live_server, screenshot
from tests.web.cards_demo import seed_small

TOKEN = "browser-token"
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found: run `bash scripts/ensure-chromium.sh` (needs apt-get and root)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL of a live server on the demo store, a deal that has cards today)."""
    root = tmp_path_factory.mktemp("browser")
    store = Store(f"sqlite:///{root / 'demo.db'}")
    deal = seed_small(store)
    with live_server(create_app(store=store, api_tokens=[TOKEN])) as url:
        yield url, deal
    store.close()


def _png_size(png: Path) -> tuple[int, int]:
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def _check_screenshot(png: Path) -> None:
    assert _png_size(png) == (1280, 900)
    # A blank or error page compresses to a few KB; charts and text do not.
    assert png.stat().st_size > 30_000, png.stat().st_size


def test_dashboard_in_chromium(site: tuple[str, str], tmp_path: Path) -> None:
    assert CHROMIUM is not None
    url = f"{site[0]}/dashboard?token={TOKEN}"  # the 303 → cookie → page flow, in a real browser
    dom = dump_dom(CHROMIUM, url, tmp_path / "profile-dom")
    for text in ("Acceptance rate over time", "Dismissal reasons", "Win rate by what the rep did",
                 "Removed by the rules", "priors-1", "<svg"):
        assert text in dom, text
    assert TOKEN not in dom
    png = tmp_path / "dashboard.png"
    screenshot(CHROMIUM, url, png, tmp_path / "profile-shot")
    _check_screenshot(png)


def test_card_in_chromium(site: tuple[str, str], tmp_path: Path) -> None:
    assert CHROMIUM is not None
    base_url, deal = site
    url = f"{base_url}/cards/files/deal/{deal}?token={TOKEN}"
    dom = dump_dom(CHROMIUM, url, tmp_path / "profile-dom")
    assert "NEXT BEST ACTION" in dom and "Best before" in dom and "Why" in dom and deal in dom
    png = tmp_path / "card.png"
    screenshot(CHROMIUM, url, png, tmp_path / "profile-shot")
    _check_screenshot(png)
