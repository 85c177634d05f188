"""The card endpoint against its floor: the real route vs a bare Flask route returning a constant JSON of
the same size, both served by gunicorn the same way, loaded by wrk from a second process on loopback.

Usage: python bench/card_service.py [--recommendations 100000] [--seconds 10] [--connections 50] [--rounds 1]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from stepwise.engine.catalog import load_catalog
from stepwise.engine.recommendation import recommendation_id
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import Store
from stepwise.workers.pipeline import run_pipeline

AS_OF = "2026-11-23"
TOKEN = "bench-token"
BARE_APP = '''
import json, os
from flask import Flask, Response
body = open(os.environ["BENCH_BODY"], "rb").read()
app = Flask(__name__)
@app.get("/api/v1/records/<source>/<record_type>/<record_id>/recommendations")
def constant(source, record_type, record_id):
    return Response(body, mimetype="application/json")
'''
LUA = '''
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "/api/v1/records/files/deal/" .. ids[i] .. "/recommendations", {["Authorization"] = "Bearer %s"})
end
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_store(url: str, target: int, work: Path) -> list[str]:
    """One real pipeline run, then its recommendations copied onto more deals until `target` rows."""
    write_company(work / "sample", as_of=AS_OF, accounts=300, seed=7)
    store = Store(url)
    result = run_pipeline(FilesConnector(work / "sample"), load_catalog(), AS_OF, store=store)
    base = [r for r in result.recommendations if r.deal_id]
    deal_ids, copies, links = [], [], []
    copy = 0
    while len(base) * (copy + 1) + len(result.recommendations) < target:
        copy += 1
        for rec in base:
            deal = f"{rec.deal_id}-c{copy}"
            copies.append(replace(rec, deal_id=deal, record_id=deal,
                                  id=recommendation_id("files", f"deal:{deal}", rec.action_id, AS_OF)))
            links.append((deal, rec.account_id))
    run_id = store.start_run("files", AS_OF, "bench")
    for start in range(0, len(copies), 20_000):
        store.upsert_recommendations(run_id, copies[start:start + 20_000])
    store.upsert_deal_links("files", links)
    deal_ids = sorted({r.deal_id for r in base} | {d for d, _ in links})
    store.close()
    return deal_ids


WORKERS = 2
# Each worker reports when it has loaded the app: the port opens as soon as the master binds it, while the
# workers may still be importing (seconds for the real app), which must not count as serving time.
READY_HOOK = """
import os
def post_worker_init(worker):
    open(os.path.join(os.environ["BENCH_READY_DIR"], str(worker.pid)), "w").close()
"""


def serve(args: list[str], env: dict[str, str], port: int, work: Path) -> subprocess.Popen:
    hook = work / "gunicorn_ready.py"
    hook.write_text(READY_HOOK)
    ready = Path(tempfile.mkdtemp(dir=work, prefix="ready-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "-c", str(hook), *args],
        env={**os.environ, **env, "BENCH_READY_DIR": str(ready)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited")
        if len(list(ready.iterdir())) >= WORKERS:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return proc
            except OSError:
                pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    lat = {p: _ms(re.search(rf"^\s+{p}%\s+([\d.]+\w+)", out, re.M).group(1)) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(done.group(1)), "seconds": _ms(done.group(2)) / 1000, "p50": lat["50"], "p99": lat["99"],
            "non2xx": int(errors.group(1)) if errors else 0}


def combined(runs: list[dict[str, float]]) -> dict[str, float]:
    """Rounds of one route: throughput over all of them, the median round's latencies."""
    def median(key: str) -> float:
        values = sorted(r[key] for r in runs)
        return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
    return {"rps": sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs), "p50": median("p50"),
            "p99": median("p99"), "non2xx": sum(r["non2xx"] for r in runs)}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recommendations", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate the two routes this many times (seconds split between rounds): on a shared "
                             "machine, load that comes and goes then weighs on both alike")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'cards.db'}"
        ids = fill_store(url, args.recommendations, work)
        (work / "ids.txt").write_text("\n".join(ids) + "\n")
        (work / "real.lua").write_text(LUA % (work / "ids.txt", TOKEN))
        sample = Store(url).recommendations_for("files", "deal", ids[0])
        body = json.dumps({"record": {"source": "files", "record_type": "deal", "record_id": ids[0]},
                           "recommendations": [r.to_dict() for r in sample]}).encode()
        (work / "body.json").write_bytes(body)
        (work / "bare_app.py").write_text(BARE_APP)
        (work / "bare.lua").write_text(LUA % (work / "ids.txt", TOKEN))
        routes = {
            "bare route (floor)": (["--chdir", str(work), "bare_app:app"], {"BENCH_BODY": str(work / "body.json")},
                                   work / "bare.lua"),
            "card endpoint": (["stepwise.web.app:create_app()"],
                              {"STEPWISE_DATABASE_URL": url, "STEPWISE_API_TOKENS": TOKEN, "STEPWISE_REDIS_URL": ""},
                              work / "real.lua"),
        }
        servers: dict[str, tuple[subprocess.Popen, str, Path]] = {}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in routes}
        try:
            for name, (app_args, env, script) in routes.items():
                port = free_port()
                servers[name] = (serve(app_args, env, port, work), f"http://127.0.0.1:{port}", script)
            for _proc, server_url, script in servers.values():
                wrk(server_url, script, 2, args.connections)  # warm-up
            for _ in range(args.rounds):
                for name, (_proc, server_url, script) in servers.items():
                    runs[name].append(wrk(server_url, script, max(1, args.seconds // args.rounds), args.connections))
        finally:
            for proc, _url, _script in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
        rows = {name: combined(r) for name, r in runs.items()}
    print(f"store: {args.recommendations:,} recommendations, body {len(body):,} bytes, "
          f"{args.connections} connections, {args.seconds}s"
          f"{f' in {args.rounds} alternating rounds' if args.rounds > 1 else ''}, gunicorn -w {WORKERS}")
    print(f"{'route':>20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in rows.items():
        print(f"{name:>20} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['non2xx']:>8}")
    floor, real = rows["bare route (floor)"], rows["card endpoint"]
    print(f"throughput ratio {real['rps'] / floor['rps']:.2f} (target ≥ 0.7), p99 ratio {real['p99'] / floor['p99']:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
