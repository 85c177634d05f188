"""The CRM side of the sample company: contacts, deals, leads, the activity log and the content library."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from stepwise.sample.erp import rep_ids
from stepwise.sample.vocabulary import (
    ACTIVITY_TYPES,
    COMPETITOR_TOPIC,
    COMPETITORS,
    COMPLAINT,
    CONTENT,
    COUNTRIES,
    COUNTRY_P,
    DATASHEET,
    DAY,
    DEMO,
    ERPS,
    INDUSTRIES,
    INTERESTS,
    LEAD_TITLES,
    MONTHS,
    PAGE_PATHS,
    PAGES,
    PORTFOLIO,
    QUOTE,
    REPLENISH,
    REPS,
    ROLE_TITLES,
    ROLES,
    SITE,
    STAGES,
    TASK,
    TOPIC_W,
    TOPICS,
    TYPE_PREFIX,
    TYPE_W,
)
from stepwise.sample.world import (
    World,
    blank_where,
    bool_text,
    company_names,
    dates,
    make_ids,
    num,
    obj,
    people,
    pick_share,
    ref,
    split_templates,
    text_frame,
    times,
    within,
)

_DEAL_THEMES = ("Infusion pump fleet renewal", "Consumables framework agreement", "Patient monitoring upgrade",
                "Inventory software rollout", "Cloud migration of inventory system", "ERP integration project",
                "Sterilization department refit", "Labeling and traceability", "Annual maintenance contract",
                "Lab automation")
_NEXT_STEPS = (
    ("Book a discovery call", "Qualify budget and timeline", "Send the intro deck"),
    ("Confirm requirements with the technical buyer", "Map the buying committee", "Schedule a demo"),
    ("Follow up on the quote", "Send the revised proposal", "Present the ROI case to the economic buyer"),
    ("Agree on the legal redlines", "Get CFO sign-off", "Finalise discount and payment terms"),
)
_PROBABILITY = np.array([0.1, 0.2, 0.5, 0.75, 1.0, 0.0])
_NORMAL, _STALE, _DECLINING, _QUOTE_SILENT, _DEMO_SILENT = range(5)


def contact_people(w: World) -> None:
    """Contacts exist before activities (which name them); last_engaged_at comes after."""
    rng, n = w.rng, w.n
    count = rng.integers(3, 7, n)
    account = np.repeat(np.arange(n), count)
    k = within(count)
    c = len(account)
    # Every account has a champion, an economic and a technical buyer; the rest are users and others.
    role = np.where(k < 3, k, rng.choice([3, 4, 2, 3], c))
    title = obj([t for row in ROLE_TITLES for t in row])[role * 5 + rng.integers(0, 5, c)]
    name, first, email = people(rng, c, w.acc["domain"][account])
    w.con = {"ids": make_ids("CON-", c, max(6, len(str(c)))), "account": account, "offset": np.cumsum(count) - count,
             "count": count, "first": first, "name": name, "title": title, "email": email, "role": role}


def contacts(w: World, last_engaged: np.ndarray) -> pd.DataFrame:
    rng, con = w.rng, w.con
    c = len(con["ids"])
    # Contacts never touched in the CRM's activity log still carry an older engagement date, as migrated CRMs do.
    never = last_engaged < 0
    fallback = w.now - (rng.uniform(60, 400, c) * DAY).astype(np.int64) // 60 * 60
    unknown = never & (rng.random(c) < 0.3)
    last = np.where(never, fallback, last_engaged)
    return text_frame("contacts", {
        "contact_id": con["ids"], "account_id": w.acc["ids"][con["account"]], "name": con["name"],
        "title": con["title"], "role": obj(ROLES)[con["role"]], "email": con["email"],
        "last_engaged_at": blank_where(times(last), unknown),
    })


def deals(w: World) -> pd.DataFrame:
    rng, acc = w.rng, w.acc
    per = rng.poisson(np.array([7.0, 5.0, 4.0])[acc["segment"]])
    account = np.repeat(np.arange(w.n), per)
    d = len(account)
    seg = acc["segment"][account]
    closed = rng.random(d) < 0.4
    won_draw = rng.random(d)
    open_stage = rng.choice(4, d, p=[0.25, 0.3, 0.25, 0.2])
    cycle = np.array([240.0, 150.0, 90.0])[seg]
    size = rng.normal(0, 0.6, d)  # log of the amount against the segment's typical deal
    amount = np.maximum(500, np.round(np.array([150_000, 40_000, 9_000])[seg] * np.exp(size), -2))

    close_day = w.today - rng.integers(1, 731, d)
    closed_at = close_day * DAY + rng.integers(8 * 3600, 18 * 3600, d)
    duration = rng.uniform(14, cycle)

    open_ = np.flatnonzero(~closed)
    age = rng.uniform(7, cycle + 60)
    stuck = pick_share(rng, open_, 0.15, d)
    stuck_days = rng.uniform(46, 120, d)
    slipped = pick_share(rng, open_, 0.12, d)
    slip_days = rng.integers(1, 31, d)
    age = np.where(stuck, np.maximum(age, stuck_days + rng.uniform(5, 60, d)), age)
    age = np.where(slipped, np.maximum(age, slip_days + rng.uniform(10, 60, d)), age)
    in_stage = rng.uniform(0.2, np.minimum(44.0, age))
    close_date = np.where(closed, close_day, w.today + np.where(slipped, -slip_days, rng.integers(5, 121, d)))
    competitor = np.where(rng.random(d) < 0.3, rng.integers(0, len(COMPETITORS), d), -1)
    # The outcome follows the deal's health (visible in its activity, see _deal_rows and activities),
    # its size against the segment's usual deal and a competitor in play, with noise: a win model can
    # learn it from what was known before the close, and no single trace gives it away.
    health = _deal_health(w, account, competitor)
    won = closed & (won_draw < _win_chance(health, size, competitor, w.acc["ordering"][account]))
    stage = np.where(closed, np.where(won, 4, 5), open_stage)
    # Lost deals drag on before they are given up; won ones close a little faster.
    closed_created = closed_at - np.where(won, 0.85, 1.2) * duration * DAY
    created = np.where(closed, closed_created, w.now - age * DAY)
    changed = np.where(closed, closed_at, np.where(stuck, w.now - stuck_days * DAY, w.now - in_stage * DAY))
    created, changed = (np.asarray(x, dtype=np.int64) // 60 * 60 for x in (created, changed))
    theme = obj(_DEAL_THEMES)[rng.integers(0, len(_DEAL_THEMES), d)]
    next_step = np.where(closed, "", obj([s for row in _NEXT_STEPS for s in row])[
        np.minimum(stage, 3) * 3 + rng.integers(0, 3, d)]).astype(object)

    order = np.argsort(created, kind="stable")
    account, stage, closed, won, amount, created, changed, close_date, competitor, theme, next_step, health = (
        x[order] for x in (account, stage, closed, won, amount, created, changed, close_date, competitor, theme,
                           next_step, health))
    ids = make_ids("DEAL-", d, max(6, len(str(d))))
    w.deal = {"ids": ids, "account": account, "stage": stage, "closed": closed, "created": created,
              "changed": changed, "competitor": competitor, "health": health,
              "pattern": _deal_patterns(w, stage, closed, created)}
    return text_frame("deals", {
        "deal_id": ids, "account_id": acc["ids"][account], "stage": obj(STAGES)[stage],
        "name": acc["names"][account] + " - " + theme, "amount": num(amount),
        "currency": np.full(d, "EUR", dtype=object), "created_at": times(created), "close_date": dates(close_date),
        "stage_changed_at": times(changed), "owner_id": rep_ids(acc["owner"][account]),
        "probability": num(_PROBABILITY[stage]), "competitor": ref(obj(COMPETITORS), competitor),
        "is_closed": bool_text(closed), "is_won": bool_text(won), "next_step": next_step,
    })


def _deal_health(w: World, account: np.ndarray, competitor: np.ndarray) -> np.ndarray:
    """A deal's hidden health (≈ standard normal): part the account relationship, part the deal itself.

    It never appears in a table; it shows only through the deal's activity (who is engaged, who
    writes in, demos, objections) and the outcome.
    """
    relationship = w.signal.standard_normal(w.n)
    own = w.signal.standard_normal(len(account))
    # A competitor in play makes the buyer harder to engage, a little.
    return 0.5 * relationship[account] + 0.85 * own - 0.15 * (competitor >= 0)


def _win_chance(health: np.ndarray, size: np.ndarray, competitor: np.ndarray, ordering: np.ndarray) -> np.ndarray:
    """P(won | closed): about 0.45 overall; higher for healthy deals, existing customers, usual-sized deals."""
    logit = -0.3 + 1.35 * health - 0.45 * (competitor >= 0) - 0.6 * size + 0.35 * ordering
    return 1 / (1 + np.exp(-logit))


def _deal_patterns(w: World, stage: np.ndarray, closed: np.ndarray, created: np.ndarray) -> np.ndarray:
    """How each open deal's activity unfolds: the engagement situations the deal actions look for."""
    rng, d = w.rng, len(stage)
    age = (w.now - created) / DAY
    open_ = ~closed
    quote = pick_share(rng, np.flatnonzero(open_ & np.isin(stage, [2, 3]) & (age > 25)), 0.25, d)
    demo = pick_share(rng, np.flatnonzero(open_ & np.isin(stage, [1, 2]) & (age > 20) & ~quote), 0.2, d)
    declining = pick_share(rng, np.flatnonzero(open_ & (age > 35) & ~quote & ~demo), 0.15, d)
    stale = pick_share(rng, np.flatnonzero(open_ & (age > 15) & ~quote & ~demo & ~declining), 0.2, d)
    return np.select([stale, declining, quote, demo], [_STALE, _DECLINING, _QUOTE_SILENT, _DEMO_SILENT], _NORMAL)


def leads(w: World) -> pd.DataFrame:
    rng, n = w.rng, max(3, w.n)
    status = rng.choice(6, n, p=[0.2, 0.25, 0.2, 0.12, 0.1, 0.13])
    source = obj(("web", "event", "referral", "outbound", "partner"))[
        rng.choice(5, n, p=[0.35, 0.2, 0.15, 0.2, 0.1])]
    seniority = rng.choice(5, n, p=[0.1, 0.15, 0.25, 0.3, 0.2])
    title = obj([t for row in LEAD_TITLES for t in row])[seniority * 4 + rng.integers(0, 4, n)]
    industry = rng.choice(len(INDUSTRIES), n, p=[0.3, 0.2, 0.15, 0.12, 0.11, 0.12])
    industry[:3] = 0  # the named leads below are hospitals and clinics
    company, domain = company_names(rng, industry, rng.choice(len(COUNTRIES), n, p=COUNTRY_P))
    size = np.clip(np.rint(np.exp(rng.normal(5, 1.3, n))), 5, 50_000)
    value = np.maximum(1000, np.round(np.exp(rng.normal(np.log(30_000), 0.9, n)), -2))
    owner = rng.integers(0, REPS, n)
    created = w.now - rng.uniform(1, 365, n) * DAY
    # A lead reading about cloud migration, two showing strong buying
    # signals (pricing + demo request), one of them high value.
    status[:3] = [1, 0, 1]
    source[:3] = "web"
    title[:3] = ["IT Director", "VP Operations", "CFO"]
    value[:3] = [85_000, 60_000, 250_000]
    created[:3] = w.now - np.array([21.3, 15.6, 40.2]) * DAY
    converted = status == 4
    target = rng.integers(0, w.n, n)
    company = np.where(converted, w.acc["names"][target], company).astype(object)
    domain = np.where(converted, w.acc["domain"][target], domain).astype(object)
    name, _, email = people(rng, n, domain)
    created = np.asarray(created, dtype=np.int64) // 60 * 60
    w.lead = {"ids": make_ids("LEAD-", n, max(6, len(str(n)))), "status": status, "created": created}
    return text_frame("leads", {
        "lead_id": w.lead["ids"], "created_at": times(created), "name": name, "company": company, "title": title,
        "email": email, "source": source, "status": obj(("new", "working", "nurturing", "qualified", "converted",
                                                            "disqualified"))[status],
        "industry": obj(INDUSTRIES)[industry], "company_size": num(size, 0), "estimated_value": num(value),
        "owner_id": rep_ids(owner), "converted_account_id": ref(w.acc["ids"], np.where(converted, target, -1)),
    })


@dataclass
class _Rows:
    """Activity rows under construction, one array per attribute."""

    t: np.ndarray
    type: np.ndarray
    deal: np.ndarray
    account: np.ndarray
    topic: np.ndarray
    negated: np.ndarray

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Rows)))


def _deal_rows(w: World) -> _Rows:
    rng, deal = w.rng, w.deal
    d = len(deal["ids"])
    pattern, closed, created = deal["pattern"], deal["closed"], deal["created"].astype(float)
    age = (w.now - created) / DAY
    quote_at = w.now - rng.uniform(8, 20, d) * DAY
    demo_at = w.now - rng.uniform(5, 14, d) * DAY
    end = np.select(
        [closed, pattern == _STALE, pattern == _QUOTE_SILENT, pattern == _DEMO_SILENT],
        [deal["changed"] - DAY, w.now - rng.uniform(8, np.maximum(10, np.minimum(40, age - 5))) * DAY,
         quote_at - DAY, demo_at - DAY],
        w.now - rng.uniform(0.05, 4, d) * DAY,
    )
    # A day's margin on both sides keeps every touch inside the deal's life after _office_hours moves it.
    start = created + DAY
    end = np.maximum(end, start + 2 * 3600)

    health = deal["health"]
    count = 2 + rng.poisson(16 * np.exp(0.15 * health))
    row_deal = np.repeat(np.arange(d), count)
    r = len(row_deal)
    t = start[row_deal] + rng.random(r) * (end - start)[row_deal]
    # Declining engagement: most touches 15-28 days ago, a trickle in the last two weeks.
    declining = pattern[row_deal] == _DECLINING
    recent = rng.random(r) < 0.18
    t = np.where(declining, w.now - np.where(recent, rng.uniform(0.1, 13.9, r), rng.uniform(15.2, 27.8, r)) * DAY, t)

    phase = np.where(closed, 2, np.where(deal["stage"] >= 2, 1, 0))[row_deal]
    kind = np.empty(r, dtype=int)
    topic = np.empty(r, dtype=int)
    u_kind, u_topic = rng.random(r), rng.random(r)
    for p in range(3):
        rows = phase == p
        kind[rows] = np.searchsorted(np.cumsum(TYPE_W[p]) / TYPE_W[p].sum(), u_kind[rows], side="right")
        topic[rows] = np.searchsorted(np.cumsum(TOPIC_W[p]) / TOPIC_W[p].sum(), u_topic[rows], side="right")
    kind = np.minimum(kind, 6)
    # Healthy deals get demos (a meeting becomes one), weak ones rarely see one through.
    h, sig = health[row_deal], w.signal.random((2, r))
    kind = np.where((kind == 2) & (sig[0] < 0.35 * _sigmoid(2 * h - 1)), 5, kind)
    kind = np.where((kind == 5) & (sig[0] < 0.7 * _sigmoid(-2 * h)), 2, kind)
    topic = np.select([kind == 4, kind == 5, kind == 6], [QUOTE, DEMO, TASK], np.minimum(topic, 14))
    # Weak deals raise concerns that stay open; in healthy ones they are rare (talk moves on).
    talk = topic <= 14
    topic = np.where(talk & (topic != 11) & (sig[1] < 0.22 * _sigmoid(-2 * h - 0.5)), 11, topic)
    topic = np.where(talk & (topic == 11) & (sig[1] > 1 - 0.7 * _sigmoid(2 * h)), 14, topic)
    # Only deals with a competitor talk about one; elsewhere the topic is mostly a plain check-in,
    # sometimes an explicit "no other vendors" (a negation the detector must not count).
    no_competitor = (topic == COMPETITOR_TOPIC) & (deal["competitor"][row_deal] < 0)
    topic = np.where(no_competitor & (rng.random(r) < 0.7), 14, topic)
    negated = np.where(topic == COMPETITOR_TOPIC, no_competitor, rng.random(r) < 0.15)

    quote, demo = np.flatnonzero(pattern == _QUOTE_SILENT), np.flatnonzero(pattern == _DEMO_SILENT)
    extra_deal = np.concatenate([quote, demo])
    extra_t = np.concatenate([quote_at[quote], demo_at[demo]])
    extra_kind = np.r_[np.full(len(quote), 4), np.full(len(demo), 5)]
    rows = _Rows(t, kind, row_deal, deal["account"][row_deal], topic, negated)
    extra = _Rows(extra_t, extra_kind, extra_deal, deal["account"][extra_deal],
                  np.where(extra_kind == 4, QUOTE, DEMO), np.zeros(len(extra_deal), dtype=bool))
    return _Rows.concat([rows, extra])


def _account_rows(w: World) -> _Rows:
    """ERP-side conversations without a deal: replenishment calls and complaints."""
    rng, acc = w.rng, w.acc
    buyers = np.flatnonzero(acc["ordering"] & (np.arange(w.n) > 0))
    count = rng.poisson(1.5, len(buyers)) + acc["broken"][buyers]
    account = np.repeat(buyers, count)
    r = len(account)
    t = w.now - rng.uniform(0.5, 180, r) * DAY
    kind = rng.choice([0, 1, 3], r, p=[0.35, 0.45, 0.2])
    complaint_share = np.where(acc["broken"][account], 0.6, 0.3)
    topic = np.where(rng.random(r) < complaint_share, COMPLAINT, REPLENISH)
    negated = (topic == COMPLAINT) & (rng.random(r) < 0.2)
    # Alfa's recent CRM interactions: portfolio talk, a datasheet request, no complaints.
    alfa_t = w.now - np.array([12.4, 8.6, 20.2]) * DAY
    return _Rows(np.r_[t, alfa_t], np.r_[kind, 1, 0, 3], np.full(r + 3, -1), np.r_[account, 0, 0, 0],
                 np.r_[topic, PORTFOLIO, DATASHEET, COMPLAINT], np.r_[negated, False, False, True])


def _lead_visits(w: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Web visits of leads: (time, lead, page index)."""
    rng, lead = w.rng, w.lead
    n = len(lead["ids"])
    count = rng.poisson(np.array([4.0, 8.0, 6.0, 9.0, 7.0, 3.0])[lead["status"]])
    row_lead = np.repeat(np.arange(n), count)
    r = len(row_lead)
    created = lead["created"].astype(float)
    t = created[row_lead] + rng.random(r) * (w.now - created)[row_lead]
    topics = np.array([p[0] for p in PAGES])
    first = np.array([np.flatnonzero(topics == i)[0] for i in INTERESTS])
    size = np.array([int((topics == i).sum()) for i in INTERESTS])
    interest = rng.integers(0, len(INTERESTS), n)
    interest[0] = INTERESTS.index("cloud-migration")
    interest = interest[row_lead]
    focused = first[interest] + (rng.random(r) * size[interest]).astype(int)
    page = np.where(rng.random(r) < 0.55, focused, rng.integers(0, len(PAGES), r))
    cloud = np.flatnonzero(topics == "cloud-migration")
    pricing, enterprise, roi, demo = (PAGE_PATHS.index(path) for path in (
        "/pricing", "/pricing/enterprise", "/resources/roi/calculator", "/demo-request"))
    special_lead = np.r_[np.zeros(6, dtype=int), 1, 1, 1, 2, 2, 2]
    special_page = np.r_[cloud[np.arange(6) % len(cloud)], pricing, enterprise, demo, roi, pricing, demo]
    special_days = np.r_[6.6, 5.2, 4.1, 3.3, 1.8, 0.7, 9.0, 6.0, 2.0, 12.0, 5.0, 3.0]
    return (np.r_[t, w.now - special_days * DAY], np.r_[row_lead, special_lead], np.r_[page, special_page])


def activities(w: World) -> tuple[pd.DataFrame, np.ndarray]:
    rng, acc, con = w.rng, w.acc, w.con
    talk = _Rows.concat([_deal_rows(w), _account_rows(w)])
    r = len(talk.t)
    t = _office_hours(np.asarray(talk.t, dtype=np.int64))
    account = talk.account
    health = np.where(talk.deal >= 0, w.deal["health"][np.maximum(talk.deal, 0)], 0.0)

    # Who was on the other side; champion-only accounts talk to nobody else lately (multi-threading gap).
    with_contact = np.isin(talk.type, [0, 1, 2, 4, 5])
    offset, count = con["offset"][account], con["count"][account]
    contact = np.where(with_contact, offset + (rng.random(r) * count).astype(int), -1)
    open_accounts = np.unique(w.deal["account"][~w.deal["closed"]])
    champion_only = pick_share(rng, open_accounts, 0.25, w.n)
    # Weak deals stay single-threaded on the champion; healthy ones reach the economic buyer.
    on_deal, pick = with_contact & (talk.deal >= 0), w.signal.random(r)
    contact = np.where(on_deal & (pick < 0.6 * _sigmoid(-1.5 * health - 0.5)), offset, contact)
    contact = np.where(on_deal & (pick > 1 - 0.3 * _sigmoid(1.5 * health - 0.5)), offset + 1, contact)
    contact = np.where(with_contact & champion_only[account] & (t > w.now - 30 * DAY), offset, contact)

    # The buyer's side writes and calls in more on healthy deals; weak ones are rep-driven.
    inbound_share = np.array([0.45, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0])[talk.type] * np.where(
        talk.deal >= 0, 2 * _sigmoid(0.9 * health), 1.0)
    direction = np.where(np.isin(talk.type, [3, 6]), -1, (rng.random(r) >= inbound_share).astype(int))
    direction[(talk.deal < 0) & (talk.topic == DATASHEET)] = 0

    subject, body = _talk_text(w, talk, contact, direction)
    last_engaged = np.full(len(con["ids"]), -1, dtype=np.int64)
    engaged = contact >= 0
    np.maximum.at(last_engaged, contact[engaged], t[engaged])

    visit_t, visit_lead, page = _lead_visits(w)
    visit_t = np.minimum(np.asarray(visit_t, dtype=np.int64) // 60 * 60, w.now - 60)
    v = len(visit_t)
    all_t = np.r_[t, visit_t]
    order = np.argsort(all_t, kind="stable")
    none_r, none_v = np.full(r, -1), np.full(v, -1)
    columns = {
        "activity_id": make_ids("ACT-", r + v, max(7, len(str(r + v)))),
        "occurred_at": times(all_t[order]),
        "type": obj(ACTIVITY_TYPES)[np.r_[talk.type, np.full(v, 7)][order]],
        "deal_id": ref(w.deal["ids"], np.r_[talk.deal, none_v][order]),
        "account_id": ref(acc["ids"], np.r_[account, none_v][order]),
        "lead_id": ref(w.lead["ids"], np.r_[none_r, visit_lead][order]),
        "contact_id": ref(con["ids"], np.r_[contact, none_v][order]),
        "direction": ref(obj(("inbound", "outbound")), np.r_[direction, np.zeros(v, dtype=int)][order]),
        "subject": np.r_[subject, obj([p[2] for p in PAGES])[page]][order],
        "body": np.r_[body, obj([SITE + p[1] for p in PAGES])[page]][order],
    }
    return text_frame("activities", columns), last_engaged


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _office_hours(t: np.ndarray) -> np.ndarray:
    """Squeeze each time into 07:00-19:00 of its own day, to the minute: reps do not call at 4 am."""
    day = t // DAY * DAY
    return day + (7 * 3600 + (t - day) // 2) // 60 * 60


def _talk_text(w: World, talk: _Rows, contact: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subject and body from the topic templates, slots filled column-wise."""
    rng, r = w.rng, len(talk.t)
    texts, topic_of, neg_of = [], [], []
    for i, (_, positive, negative) in enumerate(TOPICS):
        for neg, group in ((False, positive), (True, negative)):
            texts += group
            topic_of += [i] * len(group)
            neg_of += [neg] * len(group)
    pre, slot, post = split_templates(tuple(texts))
    key = np.array(topic_of) * 2 + np.array(neg_of)
    first = np.searchsorted(key, np.arange(2 * len(TOPICS)))
    size = np.bincount(key, minlength=2 * len(TOPICS))
    negated = talk.negated & (size[talk.topic * 2 + 1] > 0)
    cell = talk.topic * 2 + negated
    template = first[cell] + (rng.random(r) * size[cell]).astype(int)

    slot_of = slot[template]
    value = np.full(r, "", dtype=object)
    account = talk.account
    fill = {
        "contact": lambda m: w.con["first"][np.where(contact[m] >= 0, contact[m], w.con["offset"][account[m]])],
        "competitor": lambda m: obj(COMPETITORS)[np.where(talk.deal[m] >= 0, w.deal["competitor"][
            np.maximum(talk.deal[m], 0)], -1) % len(COMPETITORS)],
        "date": lambda m: _day_month(w.today + rng.integers(14, 181, int(m.sum()))),
        "pct": lambda m: obj(("5", "8", "10", "12", "15", "20"))[rng.integers(0, 6, int(m.sum()))],
        "erp": lambda m: obj(ERPS)[w.acc["erp"][account[m]]],
        "product": lambda m: w.prod["names"][w.prod["main"][w.acc["family"][account[m]]]],
    }
    for name, source in fill.items():
        rows = slot_of == name
        if rows.any():
            value[rows] = source(rows)
    body = pre[template] + value + post[template]
    subjects = obj([s for s, _, _ in TOPICS])
    prefix = np.where((talk.type == 0) & (direction == 0), "Re: ", obj(TYPE_PREFIX)[talk.type]).astype(object)
    return prefix + subjects[talk.topic], body


def _day_month(days: np.ndarray) -> np.ndarray:
    stamp = np.asarray(days).astype("datetime64[D]")
    month = stamp.astype("datetime64[M]")
    day_of_month = (stamp - month).astype(int) + 1
    return day_of_month.astype(str).astype(object) + " " + obj(MONTHS)[month.astype(int) % 12]


def content(w: World) -> pd.DataFrame:
    rows = [tuple(str(v).replace("{year}", str(w.year)) for v in item) for item in CONTENT]
    k = len(rows)
    return text_frame("content", {
        "content_id": make_ids("CNT-", k, 3), "title": obj([r[0] for r in rows]), "type": obj([r[1] for r in rows]),
        "topics": obj([r[2] for r in rows]), "industries": obj([r[3] for r in rows]),
        "competitor": obj([r[4] for r in rows]), "url": obj([f"{SITE}/resources/{r[5]}" for r in rows]),
    })
