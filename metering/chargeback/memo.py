"""Per-request memo for allocation results.

A page that builds every project's statement (the chargeback overview, costs by label) would
otherwise recompute each allocation rule, and each rule the direct statements of its source and
targets, once per statement: N² statements for N projects with a by-cost rule. Inside ``scope()``
(one per web request through ``portal.middleware.ChargebackMemoMiddleware``; the ``chargeback``
command for ``--all-projects``) results are kept by key, e.g. ``("rule", rule id, start, end)``;
outside, nothing is kept, so a later call always reads the ledger afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")
_MEMO: ContextVar[dict | None] = ContextVar("glasspane_chargeback_memo", default=None)


@contextmanager
def scope() -> Iterator[dict]:
    """Keep results until the block ends (nested scopes share the outer one)."""
    current = _MEMO.get()
    if current is not None:
        yield current
        return
    token = _MEMO.set({})
    try:
        yield _MEMO.get()
    finally:
        _MEMO.reset(token)


def remember(key, compute: Callable[[], T]) -> T:
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def peek(key):
    """What the current scope holds under ``key`` (None outside a scope or when absent)."""
    memo = _MEMO.get()
    return None if memo is None else memo.get(key)


def offer(key, value) -> None:
    """Keep ``value`` under ``key`` in the current scope unless something is there already."""
    memo = _MEMO.get()
    if memo is not None:
        memo.setdefault(key, value)
