"""The worker fleet: sync and score N deals from a fake HubSpot with 1, 2 and 4 worker processes.

    .venv/bin/python bench/workers.py --deals 100000 --workers 1 2 4

For each process count: a fresh store (a private PostgreSQL schema when PostgreSQL is reachable
— several writers is what it is for — else a SQLite file), a Redis database of its own (13; a private queue per round),
N `celery worker --pool solo` processes on one queue, then one `stepwise.score_source` task for
a full HubSpot sync.  The run fans out: one process pulls and plans, every process scores chunks,
the one settling the last chunk writes back.  Reported per stage from the store's own timestamps:
pull (send → run started), plan (cut into chunks), score (plan → last chunk settled),
finish (write-back and close), and the API calls the fake HubSpot counted against the
minimum for the calls used (`minimum_calls` in stepwise/integration/hubspot/fake.py).

The fake HubSpot (tests/integration/hubspot/stepwise.integration.hubspot.fake.py, the same one the tests use) runs
in this process behind a threaded werkzeug server; the rate limiter is set far above its
published 100/10 s (HUBSPOT_RATE_LIMIT) so the figures are Stepwise's, not HubSpot's quota —
at the real limit a first sync of 100,000 deals is bounded by the quota (≈ 9 minutes of calls).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from werkzeug import Request
from werkzeug.serving import make_server

from stepwise.integration.hubspot.fake import ENGAGEMENTS, TOKEN, FakeHubSpot, minimum_calls

ROOT = Path(__file__).resolve().parents[1]

AS_OF = "2026-11-23"
REDIS_URL = os.environ.get("STEPWISE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PG_URL = os.environ.get("STEPWISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PORTAL = "4242"


def serve(fake: FakeHubSpot) -> tuple[str, object]:
    @Request.application
    def app(request: Request):
        return fake.handle(request)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _pg_reachable() -> bool:
    url = make_url(PG_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1).close()
        return True
    except OSError:
        return False


class FreshStore:
    """A private PostgreSQL schema (dropped after), or a SQLite file when PostgreSQL is away."""

    def __init__(self, folder: Path, use_pg: bool) -> None:
        self.use_pg, self.schema = use_pg, f"stepwise_bench_{uuid.uuid4().hex[:10]}"
        if use_pg:
            with create_engine(PG_URL).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={self.schema}"}) \
                .render_as_string(hide_password=False)
        else:
            self.url = f"sqlite:///{folder / f'{self.schema}.db'}"

    def drop(self) -> None:
        if self.use_pg:
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            engine.dispose()


def start_workers(n: int, env: dict[str, str], queue: str) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        args = [sys.executable, "-m", "celery", "-A", "stepwise.workers.celery_app", "worker", "--pool", "solo",
                "--queues", queue, "--hostname", f"bench{i}-{queue}@%h", "--loglevel", "WARNING",
                "--without-heartbeat", "--without-gossip", "--without-mingle"]
        procs.append(subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def wait_ready(app, n: int, queue: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        replies = app.control.ping(timeout=1.0) or []
        if sum(1 for r in replies for name in r if queue in name) >= n:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(replies)} of {n} workers answered")


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_finished(url: str, timeout: float) -> dict:
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    row = conn.execute(text("select id, status, started_at, finished_at, counts, error from runs "
                                            "order by started_at desc limit 1")).mappings().first()
            except Exception:  # noqa: BLE001 - the schema appears with the first write
                row = None
            if row is not None and row["status"] != "running":
                with engine.connect() as conn:
                    planned = conn.execute(text("select created_at from fanout_runs where run_id = :r"),
                                           {"r": row["id"]}).scalar_one()
                    scored, records, workers = conn.execute(text(
                        "select max(updated_at), sum(records), count(distinct worker) from run_chunks where run_id = :r"),
                        {"r": row["id"]}).one()
                return {**dict(row), "planned_at": planned, "scored_at": scored, "records": records, "workers_used": workers}
            if time.monotonic() > deadline:
                raise SystemExit(f"the run did not finish in {timeout:.0f} s")
            time.sleep(0.2)
    finally:
        engine.dispose()


def _epoch(value) -> float:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def one_round(n_workers: int, fake: FakeHubSpot, base_url: str, deals: int, chunk_size: int, folder: Path,
              use_pg: bool) -> dict:
    from stepwise.workers.celery_app import make_celery

    store = FreshStore(folder, use_pg)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "STEPWISE_REDIS_URL": REDIS_URL, "STEPWISE_DATABASE_URL": store.url,
           "STEPWISE_CHUNK_SIZE": str(chunk_size), "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": base_url,
           "HUBSPOT_PORTAL_ID": PORTAL, "HUBSPOT_RATE_LIMIT": "1000000/1", "HUBSPOT_SEARCH_RATE_LIMIT": "1000000/1",
           "HUBSPOT_CREATE_TASKS": "false", "STEPWISE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    procs = start_workers(n_workers, env, queue)
    try:
        app = make_celery(REDIS_URL)
        wait_ready(app, n_workers, queue)
        fake.log.clear()
        sent = time.time()
        app.send_task("stepwise.score_source", args=["hubspot", AS_OF, True], queue=queue)
        run = wait_finished(store.url, timeout=3600)
    finally:
        stop(procs)
        store.drop()
    if run["status"] != "succeeded":
        raise SystemExit(f"run {run['status']}: {run['error']}")
    counts = run["counts"] if isinstance(run["counts"], dict) else __import__("json").loads(run["counts"])
    started, planned, scored, finished = (_epoch(run[k]) for k in ("started_at", "planned_at", "scored_at", "finished_at"))
    writes = counts["written_back"] + counts["write_back_failed"]
    floor = minimum_calls(deals, deals // 5, deals, deals // 5, deals, 50, writes)
    return {
        "workers": n_workers, "pull": started - sent, "plan": planned - started, "score": scored - planned,
        "finish": finished - scored, "total": finished - sent, "records": int(run["records"]),
        "recommendations": counts["recommendations"], "calls": fake.total(), "minimum": floor,
        "workers_used": run["workers_used"], "chunks": counts["chunks"]["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite store even when PostgreSQL is reachable")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access line per fake call would drown the table
    build = time.perf_counter()
    fake = FakeHubSpot()
    # As the counting test: 1 contact and 1 line item per deal, one engagement of each type on every
    # 5th deal, 5 deals per company, 50 products.
    fake.populate(args.deals, deals_per_company=5, contacts_per_deal=1, engagements_per_deal=1, engagements_every=5,
                  line_items_per_deal=1, products=50)
    base_url, server = serve(fake)
    use_pg = _pg_reachable() and not args.sqlite
    print(f"fake HubSpot with {args.deals:,} deals built in {time.perf_counter() - build:.1f} s; "
          f"store: {'PostgreSQL' if use_pg else 'SQLite'}; {os.cpu_count()} cores; engagements: {len(ENGAGEMENTS)} types")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.workers:
            rows.append(one_round(n, fake, base_url, args.deals, args.chunk_size, Path(tmp), use_pg))
            r = rows[-1]
            print(f"  {n} worker(s): {r['total']:.1f} s", flush=True)
    server.shutdown()

    base = rows[0]
    print(f"\n{'workers':>7} {'pull s':>7} {'plan s':>7} {'score s':>8} {'finish s':>8} {'total s':>8} "
          f"{'deals/s':>8} {'scored rec/s':>12} {'speed-up':>8} {'used':>4} {'chunks':>6} {'calls':>6} {'minimum':>7} {'ratio':>5}")
    for r in rows:
        print(f"{r['workers']:>7} {r['pull']:>7.1f} {r['plan']:>7.1f} {r['score']:>8.1f} {r['finish']:>8.1f} "
              f"{r['total']:>8.1f} {args.deals / r['total']:>8.0f} {r['records'] / r['score']:>12.0f} "
              f"{base['score'] / r['score']:>8.2f} {r['workers_used']:>4} {r['chunks']:>6} {r['calls']:>6} "
              f"{r['minimum']:>7} {r['calls'] / r['minimum']:>5.2f}")
    print("speed-up: scoring-stage time of the first row ÷ this row's (same run); 'used': processes that scored a chunk")


if __name__ == "__main__":
    main()
