"""Vectorised triggers vs the same catalog rules run by a straightforward per-deal Python loop.

Both sides evaluate exactly the same catalog expressions on the same signals
(the loop walks the parsed expression for each deal's dict of values, as a
hand-written rules engine would), so the ratio is what vectorising buys.
Usage: python bench/vectorisation.py [--accounts 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ast
import math
import operator
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from stepwise.engine.catalog import load_catalog
from stepwise.engine.records import as_utc
from stepwise.engine.run import build_signals
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company

AS_OF = "2026-11-23"
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _unknown(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def scalar(node: ast.AST, row: dict):
    """One deal, one expression, plain Python: what a per-record rules engine does."""
    if isinstance(node, ast.Expression):
        return scalar(node.body, row)
    if isinstance(node, ast.Name):
        return {"true": True, "false": False}.get(node.id, row.get(node.id))
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [scalar(e, row) for e in node.elts]
    if isinstance(node, ast.BoolOp):
        values = [bool(scalar(v, row)) and not _unknown(scalar(v, row)) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = scalar(node.operand, row)
        if isinstance(node.op, ast.Not):
            return not (bool(value) and not _unknown(value))
        return None if _unknown(value) else -value
    if isinstance(node, ast.BinOp):
        left, right = scalar(node.left, row), scalar(node.right, row)
        if _unknown(left) or _unknown(right) or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return _BIN[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = scalar(node.left, row)
        for op, comparator in zip(node.ops, node.comparators):
            right = scalar(comparator, row)
            if isinstance(op, (ast.In, ast.NotIn)):
                ok = (left in right) == isinstance(op, ast.In)
            elif _unknown(left) or _unknown(right):
                return False
            else:
                ok = _CMP[type(op)](left, right)
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        args = [scalar(a, row) for a in node.args]
        name = node.func.id
        if name == "known":
            return not _unknown(args[0])
        if name == "missing":
            return _unknown(args[0])
        if any(_unknown(a) for a in args):
            return None
        return {"clip": lambda v, lo, hi: min(max(v, lo), hi), "min": min, "max": max, "abs": abs}[name](*args)
    raise TypeError(type(node).__name__)


def loop(frame: pd.DataFrame, actions) -> int:
    hits = 0
    for row in frame.to_dict("records"):
        for action in actions:
            if action.stages and row["stage"] not in action.stages:
                continue
            if scalar(action.trigger.tree, row):
                for part in (action.relevance, action.impact, action.urgency):
                    scalar(part.tree, row)
                hits += 1
    return hits


def vectorised(frame: pd.DataFrame, actions) -> int:
    hits = 0
    for action in actions:
        mask = action.trigger.mask(frame)
        if action.stages:
            mask &= frame["stage"].isin(action.stages)
        needed = action.relevance.names | action.impact.names | action.urgency.names
        hit = frame.loc[mask.to_numpy(), [c for c in frame.columns if c in needed]]
        for part in (action.relevance, action.impact, action.urgency):
            part.evaluate(hit)
        hits += int(mask.sum())
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = load_catalog()
    actions = catalog.for_scope("deal")
    with tempfile.TemporaryDirectory() as tmp:
        write_company(Path(tmp), as_of=AS_OF, accounts=args.accounts, seed=7)
        deals = build_signals(FilesConnector(Path(tmp)).pull().data, as_utc(AS_OF))["deal"]
    times = {"loop": [], "vectorised": []}
    counts = {}
    for _ in range(args.repeat):
        for name, fn in (("loop", loop), ("vectorised", vectorised)):
            started = time.perf_counter()
            counts[name] = fn(deals, actions)
            times[name].append(time.perf_counter() - started)
    assert counts["loop"] == counts["vectorised"], counts  # same rules, same answers
    t_loop, t_vec = statistics.median(times["loop"]), statistics.median(times["vectorised"])
    print(f"{'open deals':>10} {'actions':>8} {'candidates':>10} {'loop s':>8} {'vectorised s':>12} {'speed-up':>9}")
    print(f"{len(deals):>10} {len(actions):>8} {counts['loop']:>10} {t_loop:>8.3f} {t_vec:>12.3f} {t_loop / t_vec:>8.1f}×")


if __name__ == "__main__":
    main()
