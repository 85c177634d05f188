"""A simulated quarter on the sample company, for the dashboard's "Measured lift" panel (issue #18).

Usage: python bench/lift_quarter.py [--accounts 1000] [--weeks 13] [--seed 7] [--start 2026-09-07]
                                   [--store sqlite:///lift.db] [--screenshot docs/screenshots/lift.png] [--json]

The real pipeline (files source, a store, the default 5 % holdout, no write-back) runs once a week.
Between runs a simulated world answers the cards: each card seen for the first time in a month (a
holdout unit) draws its outcome once, and the event is written into the company's files on its day,
so later runs read it exactly as they would read a customer's real order or a deal's stage change.
The rest of the company stands still (no other orders, deals or leads appear), so every outcome the
panel counts comes from the world below, whose true effects are known:

- replenishment (call_for_replenishment, contact_for_retention), an order within 14 days: 20 % without
  the card; a shown card the rep accepts (half of them) adds 30 points, so shown − control is +15 points;
- cross-sell and bundle, the offered product bought within 30 days: 15 %, shown or not (no effect);
- deal actions, a stage advance within 14 days: 12 % of deals each month, whatever the cards (no effect);
- lead actions, converted within 30 days: 8 % of leads each month (no effect).

Reps answer the shown cards of a new unit: replenishment 50 % accepted, others 40 %; 20 % dismissed.
With --screenshot, the dashboard is served from the store and headless Chromium captures its lift
panel (/dashboard#lift; chromium from scripts/ensure-chromium.sh).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepwise.engine.catalog import load_catalog  # noqa: E402
from stepwise.engine.records import OPEN_STAGES  # noqa: E402
from stepwise.integration.files import FilesConnector  # noqa: E402
from stepwise.sample.company import write_company  # noqa: E402
from stepwise.store import HoldoutLog, Store  # noqa: E402
from stepwise.store.holdout import offered_products  # noqa: E402
from stepwise.workers.holdout import measured_lift  # noqa: E402
from stepwise.workers.pipeline import run_pipeline  # noqa: E402

# family → (outcome window in days, base rate, extra chance when a shown card is accepted)
WORLD = {"replenishment": (14, 0.20, 0.30), "cross_sell": (30, 0.15, 0.0), "deal": (14, 0.12, 0.0),
         "lead": (30, 0.08, 0.0)}
ACCEPT = {"replenishment": 0.5}
ACCEPT_OTHER, DISMISS = 0.4, 0.2
TOKEN = "lift-quarter"  # noqa: S105 - a throwaway token for the local screenshot server


@dataclass
class World:
    """The company's files plus the outcome events drawn so far (each dated; written when due)."""

    base: dict[str, pd.DataFrame]
    rng: np.random.Generator
    orders: list[dict[str, Any]] = field(default_factory=list)      # account_id, day, product_id
    advances: list[tuple[str, str]] = field(default_factory=list)   # deal_id, day
    conversions: list[tuple[str, str]] = field(default_factory=list)  # lead_id, day
    units: set[tuple[str, str, str, str]] = field(default_factory=set)
    drawn: set[tuple[str, str, str]] = field(default_factory=set)   # (kind, record, month) drawn once a month
    tally: dict[str, int] = field(default_factory=dict)

    def usual_product(self, account: str) -> str:
        """What the account reorders: its most bought product (not the cross-sell offer)."""
        lines = self.base["order_lines"].merge(self.base["orders"][["order_id", "account_id"]], on="order_id")
        bought = lines.loc[lines["account_id"] == account, "product_id"]
        return str(bought.mode().iloc[0]) if not bought.empty else str(self.base["products"]["product_id"].iloc[0])

    def event_day(self, day: str, window: int) -> str:
        return (pd.Timestamp(day) + pd.Timedelta(days=int(self.rng.integers(1, window + 1)))).strftime("%Y-%m-%d")

    def answer(self, family: str, arm: str, record: str, account: str | None, products: str, day: str) -> str:
        """Draw a new unit's response (shown cards only) and its outcome; returns the response."""
        window, base, effect = WORLD[family]
        response = "no response"
        if arm != "control":
            roll = self.rng.random()
            accept = ACCEPT.get(family, ACCEPT_OTHER)
            response = "accepted" if roll < accept else "dismissed" if roll < accept + DISMISS else "no response"
        chance = base + (effect if response == "accepted" else 0.0)
        month = day[:7]
        if family in ("deal", "lead"):  # the record moves (or not) once a month, whatever its cards
            if (family, record, month) in self.drawn:
                return response
            self.drawn.add((family, record, month))
        if self.rng.random() >= chance:
            return response
        self.tally[family] = self.tally.get(family, 0) + 1
        when = self.event_day(day, window)
        if family == "deal":
            self.advances.append((record, when))
        elif family == "lead":
            self.conversions.append((record, when))
        else:
            offered = products.split()
            product = str(self.rng.choice(offered)) if family == "cross_sell" and offered else \
                self.usual_product(str(account))
            self.orders.append({"account_id": account, "day": when, "product_id": product})
        return response

    def write(self, folder: Path, day: str) -> None:
        """The company as a pull on `day` sees it: the base files and the events due by then."""
        folder.mkdir(parents=True, exist_ok=True)
        tables = {name: frame.copy() for name, frame in self.base.items()}
        due = [o for o in self.orders if o["day"] <= day]
        if due:
            ids = [f"ORD-SIM-{i:06d}" for i in range(len(due))]
            tables["orders"] = pd.concat([tables["orders"], pd.DataFrame({
                "order_id": ids, "account_id": [o["account_id"] for o in due], "ordered_at": [o["day"] for o in due],
                "total": "1000.00", "status": "delivered"})], ignore_index=True)
            tables["order_lines"] = pd.concat([tables["order_lines"], pd.DataFrame({
                "order_id": ids, "product_id": [o["product_id"] for o in due], "quantity": "10",
                "unit_price": "100.00", "discount_pct": "0"})], ignore_index=True)
        deals = tables["deals"]
        for deal, when in sorted((a for a in self.advances if a[1] <= day), key=lambda a: a[1]):
            i = deals.index[deals["deal_id"] == deal]
            stage = deals.loc[i, "stage"].iloc[0] if len(i) else None
            if stage not in OPEN_STAGES:
                continue
            nxt = OPEN_STAGES.index(stage) + 1
            won = nxt >= len(OPEN_STAGES)
            deals.loc[i, ["stage", "stage_changed_at"]] = ["closed_won" if won else OPEN_STAGES[nxt], f"{when}T10:00:00Z"]
            if won:
                deals.loc[i, ["is_closed", "is_won", "probability"]] = ["true", "true", "1.00"]
        leads = tables["leads"]
        converted = {lead for lead, when in self.conversions if when <= day}
        leads.loc[leads["lead_id"].isin(converted), "status"] = "converted"
        for name, frame in tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False)


def quarter(store: Store, work: Path, *, accounts: int, weeks: int, seed: int, start: str) -> dict[str, Any]:
    base_dir = work / "base"
    write_company(base_dir, as_of=start, accounts=accounts, seed=seed)
    world = World({p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in base_dir.glob("*.csv")},
                  np.random.default_rng(seed))
    catalog = load_catalog()
    holdout_log = HoldoutLog(store)
    runs = []
    for week in range(weeks):
        day = (pd.Timestamp(start) + pd.Timedelta(weeks=week)).strftime("%Y-%m-%d")
        folder = work / "company"
        world.write(folder, day)
        began = time.perf_counter()
        result = run_pipeline(FilesConnector(folder, full=True), catalog, day, store=store, write_back=False)
        seconds = time.perf_counter() - began
        cards = [(r.extra["holdout"]["arm"], r.extra["holdout"]["family"], r.record_type, r.record_id, r.action_id,
                  r.account_id, offered_products(r), r) for r in result.recommendations if "holdout" in r.extra]
        cards += [("control", c["family"], c["record_type"], c["record_id"], c["action_id"], c["account_id"],
                   c["products"] or "", None) for c in holdout_log.controls_of_run(result.run_id)]
        new = 0
        for arm, family, rtype, rid, action, account, products, rec in cards:
            unit = (rtype, rid, action, day[:7])
            if family not in WORLD or arm == "excluded" or unit in world.units:
                continue
            world.units.add(unit)
            new += 1
            response = world.answer(family, arm, rid, account, products, day)
            if rec is not None and response != "no response":
                store.record_feedback(rec.id, response, user=rec.owner_id or "rep",
                                      reason="wrong_timing" if response == "dismissed" else None)
        runs.append({"day": day, "cards": len(result.recommendations), "new_units": new, "seconds": round(seconds, 1)})
        print(f"{day}: {len(result.recommendations)} cards shown, {new} new units, {seconds:.1f} s", file=sys.stderr)
    return {"runs": runs, "events_drawn": world.tally, "lift": measured_lift(store, "files")}


@contextmanager
def serving(store: Store) -> Iterator[str]:
    from werkzeug.serving import make_server

    from stepwise.web.app import create_app

    server = make_server("127.0.0.1", 0, create_app(store=store, api_tokens=[TOKEN]), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def screenshot(store: Store, png: Path) -> None:
    """The dashboard's lift panel: the whole page in one tall shot (headless Chromium does not scroll to
    #lift before it captures), cropped to the tallest box that spans the page's middle (where the
    two columns of half-width panels leave a gap): the lift panel is the one full-width panel."""
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: run `bash scripts/ensure-chromium.sh`")
    with tempfile.TemporaryDirectory() as profile, serving(store) as url:
        raw = Path(profile) / "page.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--hide-scrollbars", f"--user-data-dir={profile}/p", "--window-size=1280,6000",
                        f"--screenshot={raw}", f"{url}/dashboard?token={TOKEN}"],
                       capture_output=True, timeout=120, check=False)
        if not raw.exists():
            raise SystemExit("chromium wrote no screenshot")
        image = Image.open(raw).convert("RGB")
    middle, background = image.width // 2, image.getpixel((4, image.height - 4))  # below the page's end
    runs, top = [], None
    for y in range(image.height):
        if image.getpixel((middle, y)) != background and image.getpixel((30, y)) != background:
            top = y if top is None else top
        elif top is not None:
            runs.append((top, y))
            top = None
    if not runs:
        raise SystemExit("no full-width panel found in the dashboard screenshot")
    top, bottom = max(runs, key=lambda r: r[1] - r[0])
    png.parent.mkdir(parents=True, exist_ok=True)
    image.crop((0, max(top - 14, 0), image.width, min(bottom + 14, image.height))).save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2026-09-07")
    parser.add_argument("--store", default=None, help="a database URL to keep (default: a scratch SQLite file)")
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-run", action="store_true", help="only report (and screenshot) what --store holds")
    args = parser.parse_args()
    if args.no_run and not args.store:
        parser.error("--no-run needs --store")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.store or f"sqlite:///{tmp}/lift.db")
        out = {"runs": [], "events_drawn": "(not run)", "lift": measured_lift(store, "files")} if args.no_run else \
            quarter(store, Path(tmp), accounts=args.accounts, weeks=args.weeks, seed=args.seed, start=args.start)
        if args.screenshot:
            screenshot(store, args.screenshot)
        store.close()
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return
    print(f"{args.weeks} weekly runs from {args.start}, {args.accounts} accounts; events drawn {out['events_drawn']}")
    for row in [*out["lift"]["families"], out["lift"]["overall"]]:
        print(f"  {row['family']:<15} {row['outcome']:<28} {row['message']}")
    for rate in out["lift"]["responses"]:
        print(f"  {rate['group']:<12} {rate['x']}/{rate['n']}")


if __name__ == "__main__":
    main()
