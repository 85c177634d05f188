"""A small, safe expression language over signal columns.

Catalog triggers and score parts are written by a sales-ops admin, e.g.
``topic_budget > 0 and stage in ['discovery', 'proposal']``.  They are parsed
with Python's `ast` into a whitelist of node kinds and evaluated column-wise
over a whole signals frame at once, so loading a catalog never executes code
and a trigger costs one vectorised pass, not a loop per deal.

Semantics worth knowing: an unknown value (NaN) compares false, so a missing
signal never fires a trigger; `and`/`or`/`not` work on booleans.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


class ExpressionError(ValueError):
    """The expression is not valid; the message says where."""


def _clip(value, low, high):
    return np.clip(value, low, high)


def _known(value):
    return pd.notna(value)


def _missing(value):
    return pd.isna(value)


def _coalesce(value, fallback):
    """`value` where known, else `fallback`: a learned signal with the catalog's threshold as cold start."""
    if isinstance(value, pd.Series):
        return value.where(value.notna(), fallback)
    return fallback if pd.isna(value) else value


FUNCTIONS: dict[str, Callable] = {
    "coalesce": _coalesce,
    "clip": _clip,
    "min": np.minimum,
    "max": np.maximum,
    "abs": np.abs,
    "known": _known,
    "missing": _missing,
}

_COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """The value for every row of `frame` (a Series aligned on its index)."""
        result = _Evaluator(frame).visit(self.tree.body)
        if np.isscalar(result):
            return pd.Series(result, index=frame.index)
        return pd.Series(result, index=frame.index) if not isinstance(result, pd.Series) else result

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """As a trigger: true where the expression holds, false where it is false or unknown."""
        values = self.evaluate(frame)
        return values.fillna(False).astype(bool)


def parse(source: str | int | float, known_names: Iterable[str]) -> Expression:
    """Parse and check an expression; unknown names and forbidden constructs are refused."""
    text = str(source).strip()
    if not text:
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse '{text}': {exc.msg}") from None
    known = set(known_names)
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"'{text}': {type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                allowed = ", ".join(sorted(FUNCTIONS))
                raise ExpressionError(f"'{text}': only these functions may be called: {allowed}")
            if node.keywords:
                raise ExpressionError(f"'{text}': keyword arguments are not allowed")
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in ("true", "false"):
            if node.id not in known:
                raise ExpressionError(f"'{text}': unknown signal '{node.id}'")
            names.add(node.id)
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExpressionError(f"'{text}': constant {node.value!r} is not allowed")
    return Expression(text, tree, frozenset(names))


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.BinOp, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Call,
    ast.In, ast.NotIn, *_COMPARE, *_ARITH,
)


class _Evaluator(ast.NodeVisitor):
    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def visit_Name(self, node: ast.Name):
        if node.id in ("true", "false"):
            return node.id == "true"
        return self.frame[node.id]

    def visit_Constant(self, node: ast.Constant):
        return np.nan if node.value is None else node.value

    def visit_List(self, node: ast.List):
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List

    def visit_BoolOp(self, node: ast.BoolOp):
        values = [_truth(self.visit(v)) for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = values[0]
        for value in values[1:]:
            result = combine(result, value)
        return result

    def visit_UnaryOp(self, node: ast.UnaryOp):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_truth(value) if not np.isscalar(value) else not value
        return -value if isinstance(node.op, ast.USub) else value

    def visit_BinOp(self, node: ast.BinOp):
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Div):
            # x / 0 is unknown, not infinite: a zero interval must not fire a trigger.
            right = right.replace(0, np.nan) if isinstance(right, pd.Series) else (np.nan if right == 0 else right)
        return _ARITH[type(node.op)](left, right)

    def visit_Compare(self, node: ast.Compare):
        result = None
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.visit(comparator)
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, list):
                    raise ExpressionError("'in' needs a list on its right, e.g. stage in ['proposal']")
                part = left.isin(right) if isinstance(left, pd.Series) else left in right
                if isinstance(op, ast.NotIn):
                    part = ~part if isinstance(part, pd.Series) else not part
            else:
                part = _COMPARE[type(op)](left, right)
                if isinstance(left, pd.Series) and left.dtype == object:
                    part = part & left.notna()
            result = part if result is None else (result & part)
            left = right
        return result

    def visit_Call(self, node: ast.Call):
        args = [self.visit(a) for a in node.args]
        out = FUNCTIONS[node.func.id](*args)
        if isinstance(out, np.ndarray):
            return pd.Series(out, index=self.frame.index)
        return out

    def generic_visit(self, node):  # pragma: no cover - parse() already refused these
        raise ExpressionError(f"{type(node).__name__} is not allowed")


def _truth(value):
    if isinstance(value, pd.Series):
        if value.dtype == bool:
            return value
        return value.fillna(False).astype(bool) if value.dtype == object else (value.fillna(0) != 0)
    return bool(value)
