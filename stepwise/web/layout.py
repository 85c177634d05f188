"""The shared look of the HTML pages (dashboard, card view): one stylesheet, one frame."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template_string
from markupsafe import Markup

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111827;background:#f3f4f6}
header{background:#111827;color:#f9fafb;padding:14px 28px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:20px;margin:0}
header .meta{color:#d1d5db;font-size:13px}
main{padding:20px 28px;max-width:1400px;margin:0 auto}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:18px}
.panel{background:#fff;border-radius:10px;padding:14px 18px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.panel h2{font-size:15px;margin:0 0 2px}
.panel .hint{color:#6b7280;font-size:12px;margin:0 0 8px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-bottom:18px}
.tile{background:#fff;border-radius:10px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.tile .v{font-size:26px;font-weight:700}
.tile .l{color:#6b7280;font-size:12px}
.warn{background:#fef3c7;border:1px solid #f59e0b;border-radius:8px;padding:8px 12px;margin-bottom:10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e5e7eb}
th{color:#6b7280;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.card{background:#fff;border:1px solid #93c5fd;border-left:6px solid #2563eb;border-radius:10px;margin:0 0 18px;max-width:900px}
.card h2{margin:0;padding:12px 16px;font-size:17px;border-bottom:1px solid #e5e7eb}
.card .bar{padding:8px 16px;border-bottom:1px solid #e5e7eb;display:flex;gap:18px;flex-wrap:wrap}
.card section{padding:8px 16px;border-bottom:1px solid #f3f4f6}
.card section h3{font-size:13px;margin:0 0 4px;text-transform:uppercase;letter-spacing:.04em;color:#374151}
.card ul,.card ol{margin:0;padding-left:20px}
.card footer{padding:8px 16px;color:#374151;display:flex;gap:18px;flex-wrap:wrap}
.u-HIGH{color:#b91c1c;font-weight:700}.u-MEDIUM{color:#b45309;font-weight:700}.u-LOW{color:#15803d;font-weight:700}
.muted{color:#6b7280}
"""

FRAME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ title }}</title><style>{{ css }}</style></head>
<body>{{ body }}</body></html>
"""


def page(title: str, body_template: str, **context: Any) -> Response:
    """Render `body_template` (autoescaped Jinja) inside the frame; pages are never cached."""
    # jinja_env directly: render_template_string's first parameter is called `source`, which
    # clashes with our context; string templates are autoescaped either way.
    body = current_app.jinja_env.from_string(body_template).render(**context)
    # Already escaped by the body's own render; the stylesheet is ours, not user data.
    html = render_template_string(FRAME, title=title, css=Markup(CSS), body=Markup(body))
    return Response(html, mimetype="text/html", headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
    })
