"""What the dashboard shows, computed from the store's aggregates (no Flask, no HTML).

Definitions, also printed on the page:
- shown: recommendations stored by a run; acted on: accepted + dismissed + snoozed (current status,
  so an undone dismissal does not count);
- acceptance rate: accepted ÷ acted on — not ÷ shown, so the newest day is not dragged down just
  because reps have not opened it yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stepwise.store import Store

ACTED = ("accepted", "dismissed", "snoozed")
MIN_SAMPLE = 20  # below this many responses a rate is shown but never used for a warning
DRIFT_POINTS = 0.10


@dataclass
class Rate:
    key: str
    shown: int
    acted: int
    accepted: int

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.acted if self.acted else None

    @property
    def acted_share(self) -> float | None:
        return self.acted / self.shown if self.shown else None


@dataclass
class Insights:
    totals: Rate
    days: list[str]
    by_day: list[Rate]
    by_day_category: dict[str, list[float | None]]
    by_action: list[Rate]
    by_rep: list[Rate]
    reasons: dict[str, int]
    outcomes: list[dict[str, Any]]
    removed_by_rule: dict[str, int]
    runs: list[dict[str, Any]]
    model_versions: list[str]
    warnings: list[str] = field(default_factory=list)


def _rate(key: str, row: dict[str, Any]) -> Rate:
    return Rate(key, row["shown"], sum(row[s] for s in ACTED), row["accepted"])


def collect(store: Store, source: str | None = None) -> Insights:
    by_day = [_rate(r["as_of"], r) for r in store.response_counts(["as_of"], source)]
    days = [r.key for r in by_day]
    per_cat: dict[str, dict[str, Rate]] = defaultdict(dict)
    for r in store.response_counts(["as_of", "category"], source):
        per_cat[r["category"]][r["as_of"]] = _rate(r["as_of"], r)
    by_day_category = {
        cat: [rates[d].acceptance if d in rates else None for d in days]
        for cat, rates in sorted(per_cat.items(), key=lambda kv: -sum(r.acted for r in kv[1].values()))
    }
    by_action = sorted((_rate(r["action_id"], r) for r in store.response_counts(["action_id"], source)),
                       key=lambda r: (-r.acted, -r.shown, r.key))
    by_rep = sorted((_rate(r["owner_id"] or "unassigned", r) for r in store.response_counts(["owner_id"], source)),
                    key=lambda r: r.key)
    totals = Rate("all", sum(r.shown for r in by_day), sum(r.acted for r in by_day), sum(r.accepted for r in by_day))
    runs = [r for r in store.latest_runs(50) if source is None or r["source"] == source]
    insights = Insights(
        totals=totals, days=days, by_day=by_day, by_day_category=by_day_category, by_action=by_action,
        by_rep=by_rep, reasons=store.dismissal_reasons(source), outcomes=store.outcomes_by_response(source),
        removed_by_rule=_removed_by_rule(runs), runs=runs[:10],
        model_versions=list(dict.fromkeys(r["model_version"] for r in runs if r.get("model_version"))),
    )
    insights.warnings = _warnings(insights)
    return insights


def _removed_by_rule(runs: list[dict[str, Any]]) -> dict[str, int]:
    """From the latest successful run of each source: what the rules took away last time."""
    seen: set[str] = set()
    total: dict[str, int] = defaultdict(int)
    for run in runs:  # newest first
        if run["status"] != "succeeded" or run["source"] in seen:
            continue
        seen.add(run["source"])
        for rule, n in ((run.get("counts") or {}).get("removed_by_rule") or {}).items():
            total[rule] += int(n)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


def _warnings(ins: Insights) -> list[str]:
    out: list[str] = []
    if len(ins.by_day) >= 2:
        last = ins.by_day[-1]
        earlier = Rate("earlier", 0, sum(r.acted for r in ins.by_day[:-1]), sum(r.accepted for r in ins.by_day[:-1]))
        if (last.acted >= MIN_SAMPLE and earlier.acted >= MIN_SAMPLE and last.acceptance is not None
                and earlier.acceptance is not None and earlier.acceptance - last.acceptance >= DRIFT_POINTS):
            out.append(
                f"Acceptance fell to {last.acceptance:.0%} on {last.key} ({last.accepted}/{last.acted}) from "
                f"{earlier.acceptance:.0%} before ({earlier.accepted}/{earlier.acted}): check the catalog and the model."
            )
    if len(ins.model_versions) > 1:
        out.append(f"The model changed in the last runs ({' → '.join(reversed(ins.model_versions))}): "
                   "compare acceptance before and after.")
    if ins.runs and ins.runs[0]["status"] == "failed":
        out.append(f"The latest run ({ins.runs[0]['as_of']}, {ins.runs[0]['source']}) failed: "
                   f"{ins.runs[0].get('error') or 'no error recorded'}.")
    ok = [r for r in ins.runs if r["status"] == "succeeded" and (r.get("counts") or {}).get("recommendations")]
    if len(ok) >= 2 and ok[0]["source"] == ok[1]["source"]:
        now, before = ok[0]["counts"]["recommendations"], ok[1]["counts"]["recommendations"]
        if before >= 50 and now < before / 2:
            out.append(f"The latest run produced {now} recommendations, less than half of the run before ({before}).")
    return out
