"""/dashboard: what sales leaders read — acceptance, dismissals, outcomes, rules, model, the LLM writer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from stepwise.web import charts, guard
from stepwise.web.api import STORE, error
from stepwise.web.insights import Insights, Rate, collect
from stepwise.web.layout import page
from stepwise.workers import holdout

bp = Blueprint("dashboard", __name__)
guard.protect_pages(bp)

TOP_N = 12

BODY = """
<header><h1>Stepwise · next best actions</h1>
<span class="meta">model {{ ins.model_versions[0] if ins.model_versions else "—" }}
{% if ins.runs %} · last run {{ ins.runs[0].as_of }} ({{ ins.runs[0].status }}, {{ ins.runs[0].source }}){% endif %}
{% if source %} · source {{ source }}{% endif %}</span></header>
<main>
{% for w in ins.warnings %}<div class="warn">⚠ {{ w }}</div>{% endfor %}
<div class="tiles">
 <div class="tile"><div class="v">{{ "{:,}".format(ins.totals.shown) }}</div><div class="l">recommendations shown</div></div>
 <div class="tile"><div class="v">{{ pct(ins.totals.acted_share) }}</div><div class="l">acted on ({{ ins.totals.acted }})</div></div>
 <div class="tile"><div class="v">{{ pct(ins.totals.acceptance) }}</div><div class="l">accepted of acted on ({{ ins.totals.accepted }})</div></div>
 <div class="tile"><div class="v">{{ "{:,}".format(ins.reasons.values()|sum) }}</div><div class="l">dismissed</div></div>
 <div class="tile"><div class="v">{{ "{:,}".format(ins.removed_by_rule.values()|sum) }}</div><div class="l">removed by rules (last run)</div></div>
</div>
<div class="grid">
 <div class="panel"><h2>Acceptance rate over time</h2>
  <p class="hint">accepted ÷ acted on, by run day; bold: all actions, thin: by category</p>{{ over_time }}</div>
 <div class="panel"><h2>Shown vs acted on</h2>
  <p class="hint">recommendations per run day, and how many a rep accepted, dismissed or snoozed</p>{{ shown_acted }}</div>
 <div class="panel"><h2>Acceptance by action</h2>
  <p class="hint">top {{ top }} actions by responses · accepted/acted on</p>{{ by_action }}</div>
 <div class="panel"><h2>Acceptance by rep</h2><p class="hint">accepted/acted on, per deal owner</p>{{ by_rep }}</div>
 <div class="panel"><h2>Dismissal reasons</h2><p class="hint">what reps said when they dismissed</p>{{ reasons }}</div>
 <div class="panel"><h2>Win rate by what the rep did</h2>
  <p class="hint">closed deals only; the counts say how much to trust each bar</p>{{ outcomes }}
  <table><tr><th>deals whose recommendation was…</th><th class="n">deals</th><th class="n">closed</th>
  <th class="n">won</th><th class="n">win rate</th></tr>
  {% for o in ins.outcomes %}<tr><td>{{ o.response }}</td><td class="n">{{ o.deals }}</td><td class="n">{{ o.closed }}</td>
  <td class="n">{{ o.won }}</td><td class="n">{{ pct(o.win_rate) }}</td></tr>{% endfor %}</table></div>
 <div class="panel" id="lift" style="grid-column:1/-1"><h2>Measured lift: what the cards caused</h2>
  <p class="hint">outcome rate of shown cards minus held-out (control) cards, with 95 % intervals; green: the
  interval is above 0, red: below 0, blue: it includes 0. Only cards whose outcome window is over count
  (README, "Measured lift").</p>{{ lift_chart }}
  <div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:18px">
  <div><table><tr><th>family · outcome</th><th class="n">shown</th><th class="n">control</th><th>lift (95 % interval)</th></tr>
  {% for l in lift.families + [lift.overall] %}<tr><td>{{ l.family }} · {{ l.outcome }}</td>
  <td class="n">{{ l.x_shown }}/{{ l.n_shown }}</td><td class="n">{{ l.x_control }}/{{ l.n_control }}</td>
  <td>{{ l.message if not l.enough else "%+.1f pp (%+.1f to %+.1f)"|format(100 * l.lift, 100 * l.low, 100 * l.high) }}</td></tr>{% endfor %}
  </table></div>
  <div><p class="hint">Was the rep right? headline outcome rate by what the rep did, against the control no rep saw
  (bars to the scale of the highest interval end)</p>
  {{ response_chart }}</div></div></div>
 <div class="panel"><h2>Removed by the rules</h2><p class="hint">latest successful run of each source</p>{{ removed }}</div>
 {% if llm %}<div class="panel"><h2>LLM drafts</h2>
  <p class="hint">latest run of each source with the writer on: drafts on cards, and the drafts the allowlist
  refused, by reason (a draft may have several)</p>
  <table><tr><th>drafts</th><th class="n">cards</th></tr>
  <tr><td>used (new)</td><td class="n">{{ llm.used }}</td></tr>
  <tr><td>used (from the cache)</td><td class="n">{{ llm.cached }}</td></tr>
  <tr><td>rejected</td><td class="n">{{ llm.rejected }}</td></tr>
  <tr><td>rejected before (from the cache)</td><td class="n">{{ llm.cached_rejection }}</td></tr>
  <tr><td>over the day's budget (template kept)</td><td class="n">{{ llm.over_budget }}</td></tr>
  <tr><td>model failed (template kept)</td><td class="n">{{ llm.model_failed }}</td></tr>
  <tr><td>model calls</td><td class="n">{{ llm.calls }}</td></tr>
  <tr><td>CRM note lines dropped as instructions</td><td class="n">{{ llm.notes_dropped }}</td></tr></table>
  {{ llm_reasons }}</div>{% endif %}
 <div class="panel"><h2>Runs and model version</h2>
  <table><tr><th>as of</th><th>source</th><th>status</th><th>model</th><th class="n">recommendations</th></tr>
  {% for r in ins.runs %}<tr><td>{{ r.as_of }}</td><td>{{ r.source }}</td><td>{{ r.status }}</td>
  <td>{{ r.model_version }}</td><td class="n">{{ (r.counts or {}).get("recommendations", "—") }}</td></tr>{% endfor %}
  </table></div>
</div>
</main>
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _rate_rows(rates: list[Rate]) -> list[tuple[str, float, str]]:
    return [(r.key, r.acceptance or 0.0, f"{_pct(r.acceptance)} · {r.accepted}/{r.acted}") for r in rates]


LLM_FIELDS = ("used", "cached", "rejected", "cached_rejection", "over_budget", "model_failed", "calls", "notes_dropped")


def llm_drafts(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The writer's counts (fanout.run_counts' `llm`) of the latest succeeded run of each source that has them."""
    seen: set[str] = set()
    total: dict[str, Any] = dict.fromkeys(LLM_FIELDS, 0)
    reasons: dict[str, int] = {}
    for run in runs:  # newest first
        counts = (run.get("counts") or {}).get("llm")
        if run["status"] != "succeeded" or run["source"] in seen or not counts:
            continue
        seen.add(run["source"])
        for key in LLM_FIELDS:
            total[key] += int(counts.get(key, 0))
        for reason, n in (counts.get("rejected_by_reason") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(n)
    if not seen:
        return None
    total["by_reason"] = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return total


_NO_LIFT = {"family": "overall", "outcome": "headline outcome", "n_shown": 0, "x_shown": 0, "n_control": 0,
            "x_control": 0, "enough": False, "message": "Not enough data yet (0 shown, 0 control)"}


def render(ins: Insights, source: str | None, measured: dict[str, Any] | None = None) -> Any:
    days = [d[5:] for d in ins.days]  # MM-DD: the year is in the header's run date
    series = [("all actions", [r.acceptance for r in ins.by_day])]
    series += [(cat, ys) for cat, ys in list(ins.by_day_category.items())[:6]]
    count_max = max(ins.reasons.values(), default=1)
    llm = llm_drafts(ins.runs)
    lift = measured if measured is not None else {"families": [], "overall": None, "responses": []}
    lifts = [*lift["families"], *([lift["overall"]] if lift["overall"] else [])]
    return page(
        "Stepwise dashboard", BODY, ins=ins, source=source, pct=_pct, top=TOP_N,
        lift={"families": lift["families"], "overall": lift["overall"] or lifts[-1] if lifts else _NO_LIFT},
        lift_chart=charts.interval_chart("Lift of shown over control cards, 95 % intervals", width=1180,
                                         label_width=300, caption_width=400, points=True, rows=[
            (f"{row['family']} · {row['outcome']}", row["lift"], row["low"], row["high"],
             f"{100 * row['lift']:+.1f} pp ({100 * row['low']:+.1f} to {100 * row['high']:+.1f}) · "
             f"{row['x_shown']}/{row['n_shown']} vs {row['x_control']}/{row['n_control']}"
             if row["enough"] else f"not enough data yet ({row['n_shown']} shown, {row['n_control']} control)")
            for row in lifts]),
        response_chart=charts.hbar_chart("Outcome rate by response", [
            (r["group"], r["rate"] or 0.0, f"{_pct(r['rate'])} of {r['n']}"
             + (f" ({r['low']:.0%}–{r['high']:.0%})" if r["rate"] is not None else "")) for r in lift["responses"]],
            # Scaled to the highest interval end, not 100 %: outcome rates are often a few percent.
            max_value=max([r["high"] or 0.0 for r in lift["responses"]] + [0.01]), bar_color=charts.PALETTE[5],
            width=580, label_width=110),
        over_time=charts.line_chart("Acceptance rate over time", days, series),
        shown_acted=charts.column_pairs("Shown vs acted on", days, ("shown", [r.shown for r in ins.by_day]),
                                        ("acted on", [r.acted for r in ins.by_day])),
        by_action=charts.hbar_chart("Acceptance by action", _rate_rows(ins.by_action[:TOP_N]), max_value=1.0),
        by_rep=charts.hbar_chart("Acceptance by rep", _rate_rows(ins.by_rep), max_value=1.0,
                                 bar_color=charts.PALETTE[1]),
        reasons=charts.hbar_chart("Dismissal reasons", [(k, v, str(v)) for k, v in ins.reasons.items()],
                                  max_value=count_max, bar_color=charts.PALETTE[2]),
        outcomes=charts.hbar_chart(
            "Win rate by response",
            [(o["response"], o["win_rate"] or 0.0, f"{_pct(o['win_rate'])} · {o['won']}/{o['closed']} closed")
             for o in ins.outcomes], max_value=1.0, bar_color=charts.PALETTE[3]),
        removed=charts.hbar_chart("Removed by rule", [(k, v, str(v)) for k, v in ins.removed_by_rule.items()],
                                  bar_color=charts.PALETTE[4]),
        llm=llm,
        llm_reasons=charts.hbar_chart("LLM drafts rejected by reason",
                                      [(k, v, str(v)) for k, v in (llm or {}).get("by_reason", {}).items()],
                                      bar_color=charts.PALETTE[2]) if llm else "",
    )


@bp.get("/dashboard")
def dashboard() -> Any:
    source = request.args.get("source") or None
    if source is not None and "\x00" in source:
        return error(400, "source must not contain NUL characters")
    store = current_app.extensions[STORE]
    return render(collect(store, source), source, holdout.measured_lift(store, source))

