"""A Recommendation as a terminal card (the four questions of README, "What Stepwise does"), rendered with rich."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from stepwise.engine.recommendation import Recommendation

_URGENCY_STYLE = {"HIGH": "bold red", "MEDIUM": "yellow", "LOW": "green"}


def card(rec: Recommendation) -> Panel:
    where = rec.deal_id and f"deal {rec.deal_id}" or rec.lead_id and f"lead {rec.lead_id}" or f"account {rec.account_id}"
    header = Text.assemble(
        ("Score ", "dim"), (f"{rec.score:.0f}/100", "bold"), ("  |  Urgency ", "dim"),
        (rec.urgency, _URGENCY_STYLE.get(rec.urgency, "")), ("  |  Impact ", "dim"), (rec.expected_impact, "bold"),
    )
    context = f"{rec.category} · {where}" + (f" · account {rec.account_id}" if rec.account_id and rec.record_type != "account" else "")
    parts: list = [header, Text(context, style="dim"), Rule(style="dim")]
    parts.append(Text("Why", style="bold"))
    parts += [Text(f"  • {line}") for line in rec.why]
    parts.append(Text("How", style="bold"))
    parts += [Text(f"  {i}. {line}") for i, line in enumerate(rec.how, start=1)]
    offer = _offer_lines(rec)
    if offer:
        parts.append(Text("Offer", style="bold"))
        parts += [Text(f"  • {line}") for line in offer]
    if rec.constraints:
        parts.append(Text("Rules", style="bold"))
        parts += [Text(f"  • {line}") for line in rec.constraints]
    if rec.script:
        parts.append(Text("Script", style="bold"))
        parts.append(Text(f"  “{rec.script}”", style="italic"))
    parts.append(Rule(style="dim"))
    success = f"{rec.success_rate:.0%}" if rec.success_rate is not None else "no history yet"
    parts.append(Text(f"⏰ Best before: {rec.best_before}  |  📊 Success rate: {success}"))
    if rec.alternatives:
        parts.append(Text("Alternatives", style="bold"))
        parts += [Text(f"  → Score {a.score:.0f}: {a.title} ({a.urgency.lower()} urgency)") for a in rec.alternatives]
    if rec.removed:
        parts.append(Text(f"Removed by the rules: {len(rec.removed)} (see --format json)", style="dim"))
    return Panel(Group(*parts), title=f"🎯 NEXT BEST ACTION: {rec.title}", title_align="left", border_style="cyan")


def _offer_lines(rec: Recommendation) -> list[str]:
    lines = [f"{p['name']} ({p['role']})" for p in rec.offer.get("products", [])]
    if "bundle" in rec.offer:
        lines.append(f"Recommended bundle: {rec.offer['bundle']}")
    if "asset" in rec.offer:
        lines.append(f"{rec.offer['asset']['title']} — {rec.offer['asset']['url']}")
    if "max_discount_pct" in rec.offer:
        lines.append(f"Discount ceiling: {rec.offer['max_discount_pct']:g}%")
    return lines


def print_cards(recs: Iterable[Recommendation], console: Console | None = None) -> None:
    console = console or Console()
    for rec in recs:
        console.print(card(rec))
