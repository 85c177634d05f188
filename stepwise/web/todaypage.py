"""/reps/<owner>/today: a rep's "Today" list as HTML (the JSON is GET /api/v1/reps/<owner>/today)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, g

from stepwise.web import guard
from stepwise.web.api import today_of
from stepwise.web.layout import page

bp = Blueprint("todaypage", __name__)
guard.protect_pages(bp)

BODY = """
<header><h1>Today · {{ owner }}</h1>
 <span class="meta">{{ day or "no run yet" }} · {{ recs|length }} action{{ "" if recs|length == 1 else "s" }}
 · {{ high }} urgent</span></header>
<main>
{% if not recs %}<p class="muted">Nothing on your list today: no action strong enough to be worth your time.</p>{% endif %}
<table class="today">
{% for r in recs %}
<tr>
 <td class="n rank">{{ r.today_rank }}</td>
 <td><span class="u-{{ r.urgency }}">{{ r.urgency }}</span>{% if r.urgency_reason %}<div class="muted small">{{ r.urgency_reason }}</div>{% endif %}</td>
 <td><b><a href="{{ card_url(r) }}">{{ r.title }}</a></b>
  <div class="muted small">{{ r.record_type }} {{ r.record_id }}{% if r.account_id and r.account_id != r.record_id %} · account {{ r.account_id }}{% endif %}
  · {{ r.category }}{% if r.why %} · {{ r.why[0] }}{% endif %}</div></td>
 <td class="n">{{ "%.0f"|format(r.score) }}</td>
 <td class="n">{{ value(r) }}</td>
</tr>
{% endfor %}
</table>
{% if recs %}<p class="muted small">Ranked by expected value × urgency, at most a few of one action type and two per
account. The score is 0–100; the value is what the record's prediction expects it to bring.</p>{% endif %}
</main>
"""

STYLE = """<style>table.today td{padding:8px 10px;vertical-align:top}table.today tr{background:#fff}
table.today td.rank{font-weight:700;color:#6b7280;width:2em}.small{font-size:12px}
table.today a{color:#111827;text-decoration:none}table.today a:hover{text-decoration:underline}</style>"""


def _card_url(rec: Any) -> str:
    path = "/".join(quote(part, safe="") for part in (rec.source, rec.record_type, rec.record_id))
    return f"/cards/{path}?as_of={quote(rec.as_of[:10])}"


def _value(rec: Any) -> str:
    expected = rec.extra.get("expected_value") if rec.extra else None
    return f"{expected:,.0f}" if isinstance(expected, (int, float)) and not isinstance(expected, bool) else "—"


@bp.get("/reps/<owner>/today")
def today_page(owner: str) -> Any:
    found = today_of(owner, g.stepwise_principal)
    if len(found) == 3:  # the API's error answer: the same message and status
        return found
    day, recs = found
    return page(f"Today · {owner}", STYLE + BODY, owner=owner, day=day, recs=recs,
                high=sum(r.urgency == "HIGH" for r in recs), card_url=_card_url, value=_value)
