"""/cards/<source>/<record_type>/<record_id>: a record's recommendations as HTML (README, "The card service")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from stepwise.engine.recommendation import Recommendation
from stepwise.web import guard
from stepwise.web.api import RECORD_TYPES, STORE, error, valid_day
from stepwise.web.layout import page

bp = Blueprint("cardpage", __name__)
guard.protect_pages(bp)

BODY = """
<header><h1>Next best actions</h1><span class="meta">{{ record_type }} {{ record_id }} · {{ source }}</span></header>
<main>
{% if not recs %}<p class="muted">No recommendation for this record right now: nothing strong enough to be worth your time.</p>{% endif %}
{% for r in recs %}
<article class="card">
 <h2>🎯 NEXT BEST ACTION: {{ r.title }}</h2>
 <div class="bar"><span>Score <b>{{ "%.0f"|format(r.score) }}/100</b></span>
  <span>Urgency <span class="u-{{ r.urgency }}">{{ r.urgency }}</span></span>
  <span>Impact <b>{{ r.expected_impact }}</b></span><span class="muted">{{ r.category }}</span></div>
 <section><h3>Why</h3><ul>{% for w in r.why %}<li>{{ w }}</li>{% endfor %}</ul></section>
 <section><h3>How</h3><ol>{% for h in r.how %}<li>{{ h }}</li>{% endfor %}</ol></section>
 {% set offer = offer_lines(r) %}{% if offer %}<section><h3>Offer</h3><ul>{% for o in offer %}<li>{{ o }}</li>{% endfor %}</ul></section>{% endif %}
 {% if r.constraints %}<section><h3>Rules</h3><ul>{% for c in r.constraints %}<li>{{ c }}</li>{% endfor %}</ul></section>{% endif %}
 {% if r.script %}<section><h3>Script</h3><p><i>“{{ r.script }}”</i></p></section>{% endif %}
 <footer><span>⏰ Best before: {{ r.best_before }}</span>
  <span>📊 Success rate: {{ "%.0f%%"|format(r.success_rate * 100) if r.success_rate is not none else "no history yet" }}</span>
  <span class="muted">model {{ r.model_version }}</span></footer>
 {% if r.alternatives %}<section><h3>Alternatives</h3><ul>{% for a in r.alternatives %}
  <li>Score {{ "%.0f"|format(a.score) }}: {{ a.title }} ({{ a.urgency|lower }} urgency)</li>{% endfor %}</ul></section>{% endif %}
</article>
{% endfor %}
</main>
"""


def offer_lines(rec: Recommendation) -> list[str]:
    lines = [f"{p.get('name', p.get('product_id', ''))} ({p.get('role', '')})" for p in rec.offer.get("products", [])]
    if rec.offer.get("bundle"):
        lines.append(f"Recommended bundle: {rec.offer['bundle']}")
    if isinstance(rec.offer.get("asset"), dict):
        lines.append(f"{rec.offer['asset'].get('title', '')} — {rec.offer['asset'].get('url', '')}")
    if rec.offer.get("max_discount_pct") is not None:
        lines.append(f"Discount ceiling: {rec.offer['max_discount_pct']:g}%")
    return lines


@bp.get("/cards/<source>/<record_type>/<record_id>")
def card_page(source: str, record_type: str, record_id: str) -> Any:
    if record_type not in RECORD_TYPES:
        return error(400, f"record_type must be one of {', '.join(RECORD_TYPES)}, got {record_type!r}")
    if any("\x00" in v for v in (source, record_id)):
        return error(400, "path parameters must not contain NUL characters")
    as_of = request.args.get("as_of")
    if as_of is not None and (as_of := valid_day(as_of)) is None:
        return error(400, f"as_of must be a date YYYY-MM-DD, got {request.args['as_of']!r}")
    recs = current_app.extensions[STORE].recommendations_for(source, record_type, record_id, as_of=as_of)
    return page(f"Next best actions · {record_type} {record_id}", BODY, recs=recs, source=source,
                record_type=record_type, record_id=record_id, offer_lines=offer_lines)
