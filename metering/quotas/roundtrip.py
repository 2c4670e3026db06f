"""Admission on PostgreSQL in one network round trip.

Why: a decision used to be a dozen queries, several of them made while holding the project's
lock, so admissions of one project queued behind each other's round trips (77-103 decisions/s).
Here the whole decision is sent at once as a psycopg pipeline, and the server runs it without
waiting for the client:

1. ``BEGIN`` (only when no transaction is open already);
2. the *check*: one statement (a CTE) that reads the limits, the live usage and the active
   reservations, and decides on what is committed. A request that does not fit is recorded as
   refused right there, without the lock (it does not fit at that instant, which is the answer);
   a request that fits is only noted in a transaction-local setting (``glasspane.admission``);
3. ``SELECT ... FOR UPDATE`` of the project row, only when the check noted "fits": the per-project
   lock ``submit`` has always used, so admissions of one project run one at a time;
4. the same statement again, under the lock: a fresh READ COMMITTED snapshot that sees every
   reservation committed before the lock was granted, which inserts the request and its
   reservation, or records the refusal;
5. ``COMMIT``, which releases the lock without waiting for the disk (the statement set
   ``synchronous_commit`` off for this transaction only), then ``SELECT txid_current()`` in a
   synchronous transaction of its own: its commit flushes the WAL up to and including ours, so
   the answer still comes only once the decision is durable, while the next admission of the
   project no longer waits for an fsync it does not need.

The two statements are prepared once per connection (Django leaves psycopg's prepared statements
off, so ``decide`` asks for them explicitly), which saves planning them on every decision.

These are the guarantees of the Python path (``admission._decide_in_python``, used on SQLite):
refusals answered from committed data without queueing, admissions serialised per project with a
re-check under the lock. What each resource and reservation counts is the SQL of
``usage.live_rows`` and ``usage.held_rows`` (from ``contributions``); limits follow
``limits.scoped_limits`` (the project's value, else the site default, else unlimited; an account
scope has only its own rows). The budget's forecast is not SQL: the caller prices it (once) and
passes it in; when a budget limit applies and no price was given, the statement answers ``price``
and changes nothing.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import psycopg
from django.db import connection
from psycopg.pq import TransactionStatus

from metering.choices import BreachPolicy, QuotaKey, RequestState
from metering.models import (
    UNLIMITED,
    Project,
    ProvisionRequest,
    Quota,
    QuotaBreach,
    QuotaDefault,
    Reservation,
    Resource,
)
from metering.quotas.contributions import COUNTED
from metering.quotas.limits import KEYS
from metering.quotas.usage import held_rows, live_rows

SETTING = "glasspane.admission"
#: Django turns psycopg's prepared statements off (``prepare_threshold`` None); while deciding, only
#: the statements executed with ``prepare=True`` are prepared (once per connection)
PREPARE_ONLY_WHEN_ASKED = 2**31
_SENTINEL = -7_345_001  # stands for the project id while the ORM's SQL is compiled once per process


@dataclass(frozen=True)
class Decision:
    """What the statement decided: ``admitted``, ``refused``, ``blocked`` (block-new: the caller
    words and records it) or ``price`` (a budget applies: price the request and ask again)."""

    verdict: str
    request_id: int | None = None
    key: str = ""
    narrowed: bool = False  # the refusing limit is the one narrowed to the account
    requested: Decimal | None = None
    used: Decimal | None = None
    limit: int | None = None
    message: str = ""


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model) -> str:
    return _q(model._meta.db_table)


def _col(model, field: str) -> str:
    return _q(model._meta.get_field(field).column)


def _literal(text: str) -> str:
    assert "'" not in text and "%" not in text, text  # our own constants only
    return f"'{text}'"


def _orm_sql(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _message_sql(template: str) -> str:
    """``admission.EXCEEDED`` as a SQL expression over the refusal ``r`` and the arguments ``a``:
    the wording stays in one place, and numbers print as ``usage.number`` prints them."""
    fields = {"key": "r.key", "scope": "CASE WHEN r.narrowed THEN a.scope ELSE '' END",
              "requested": "trim_scale(r.want)::text", "used": "trim_scale(r.in_use)::text",
              "limit": "r.lim::text"}
    parts = []
    for text, field, _spec, _conv in string.Formatter().parse(template):
        if text:
            parts.append("'" + text.replace("'", "''").replace("%", "%%") + "'")
        if field:
            parts.append(fields[field])
    return " || ".join(parts)


@cache
def _statement(template: str) -> tuple[str, tuple, str]:
    """The decision statement, its fixed parameters (the ORM's, with the project id as a
    sentinel), and the lock statement. Compiled once per process."""
    live_sql, live_params = _orm_sql(live_rows(Resource.objects.live().filter(project_id=_SENTINEL)))
    held_sql, held_params = _orm_sql(held_rows(Reservation.objects.filter(project_id=_SENTINEL)))
    quota, default = _table(Quota), _table(QuotaDefault)
    q_project, q_account, q_key, q_limit = (_col(Quota, f) for f in ("project", "account", "key", "limit"))
    d_key, d_limit = _col(QuotaDefault, "key"), _col(QuotaDefault, "limit")

    def total(source: str, key: str, narrowed: bool) -> str:
        where = " WHERE account_id = a.account" if narrowed else ""
        return f"(SELECT COALESCE(SUM({_q(key)}), 0) FROM {source}{where})"

    rows = []
    for narrowed in (False, True):
        for key in KEYS:
            ordinal = len(rows)
            k = _literal(key)
            if narrowed:
                lim = f"COALESCE((SELECT lim FROM quota WHERE account_id = a.account AND key = {k}), {UNLIMITED})"
            else:
                lim = (f"COALESCE((SELECT lim FROM quota WHERE account_id IS NULL AND key = {k}), "
                       f"(SELECT lim FROM dflt WHERE key = {k}), {UNLIMITED})")
            held = total("held", key, narrowed)
            if key in COUNTED:
                in_use = f"{total('live', key, narrowed)} + {held}"
            else:  # the budget: the project's month forecast (priced by the caller) plus what is held
                in_use = f"COALESCE(a.forecast, 0) + {held}"
            want = f"a.w_{key}" if key != QuotaKey.BUDGET else "COALESCE(a.cost, 0)"
            rows.append(f"({ordinal}, {'true' if narrowed else 'false'}, {k}, {want}, ({in_use})::numeric, "
                        f"({lim})::bigint)")
    checks = ",\n        ".join(rows)
    want_args = ", ".join(f"%s::numeric AS w_{key}" for key in COUNTED)
    pr, res = ProvisionRequest, Reservation
    pr_cols = ", ".join(_col(pr, f) for f in (
        "project", "account", "requested_by", "kind", "spec", "state", "message", "created_at", "finished_at",
        "idempotency_key"))
    res_cols = ", ".join(_col(res, f) for f in (
        "request", "project", "account", *COUNTED, "cost", "active", "created_at"))
    refused, pending = _literal(RequestState.REFUSED), _literal(RequestState.PENDING)
    statement = f"""
WITH a AS (
    SELECT %s::bigint AS project, %s::bigint AS account, %s::bigint AS requester, %s::text AS kind,
           %s::jsonb AS spec, %s::text AS ikey, %s::timestamptz AS now, %s::text AS scope,
           %s::numeric AS cost, %s::numeric AS forecast, %s::boolean AS locked, %s::boolean AS own, {want_args}
),
go AS (  -- the locked pass runs only when the check found that the request fits
    SELECT a.* FROM a WHERE NOT a.locked OR COALESCE(current_setting('{SETTING}', true), '') = 'fits'
),
live AS ({live_sql}),
held AS ({held_sql}),
quota AS (SELECT {q_account} AS account_id, {q_key} AS key, {q_limit} AS lim FROM {quota}, a
          WHERE {q_project} = a.project AND ({q_account} IS NULL OR {q_account} = a.account)),
dflt AS (SELECT {d_key} AS key, {d_limit} AS lim FROM {default}),
checks AS (
    SELECT c.* FROM go a, LATERAL (VALUES
        {checks}
    ) AS c(ord, narrowed, key, want, in_use, lim)
),
refusal AS (
    SELECT * FROM checks WHERE lim <> {UNLIMITED} AND want > 0 AND in_use + want > lim ORDER BY ord LIMIT 1
),
verdict AS (
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM go) THEN 'skip'
        WHEN EXISTS (SELECT 1 FROM {_table(Project)} p WHERE p.id = a.project
                     AND p.{_col(Project, "breach_policy")} = {_literal(BreachPolicy.BLOCK_NEW)})
             AND EXISTS (SELECT 1 FROM {_table(QuotaBreach)} b WHERE b.{_col(QuotaBreach, "project")} = a.project
                         AND b.{_col(QuotaBreach, "closed_at")} IS NULL) THEN 'blocked'
        WHEN a.cost IS NULL AND EXISTS (SELECT 1 FROM checks WHERE key = {_literal(QuotaKey.BUDGET)}
                                        AND lim <> {UNLIMITED}) THEN 'price'
        WHEN EXISTS (SELECT 1 FROM refusal) THEN 'refused'
        WHEN a.locked THEN 'admitted'
        ELSE 'fits'
    END AS v FROM a
),
message AS (
    SELECT {_message_sql(template)} AS text FROM refusal r, a
),
req AS (
    INSERT INTO {_table(pr)} ({pr_cols})
    SELECT a.project, a.account, a.requester, a.kind, a.spec,
           CASE WHEN v.v = 'refused' THEN {refused} ELSE {pending} END,
           COALESCE((SELECT text FROM message), ''), a.now,
           CASE WHEN v.v = 'refused' THEN a.now END, a.ikey
    FROM a, verdict v WHERE v.v IN ('refused', 'admitted')
    RETURNING id
),
reservation AS (
    INSERT INTO {_table(res)} ({res_cols})
    SELECT req.id, a.project, a.account, {", ".join(f"a.w_{key}" for key in COUNTED)}, COALESCE(a.cost, 0), true, a.now
    FROM req, a, verdict v WHERE v.v = 'admitted'
    RETURNING id
),
noted AS (  -- the verdict, for the lock and the locked pass; in a transaction of our own, commit without
            -- waiting for the disk (``decide`` flushes before it answers)
    SELECT set_config('{SETTING}', v.v, true) AS v,
           CASE WHEN a.own THEN set_config('synchronous_commit', 'off', true) END AS async
    FROM verdict v, a WHERE v.v <> 'skip'
)
SELECT v.v, (SELECT id FROM req), r.key, r.narrowed, r.want, r.in_use, r.lim, (SELECT text FROM message),
       (SELECT count(*) FROM reservation), (SELECT count(*) FROM noted)
FROM verdict v LEFT JOIN refusal r ON true
"""
    lock = (f"SELECT 1 FROM {_table(Project)} WHERE id = %s "
            f"AND COALESCE(current_setting('{SETTING}', true), '') = 'fits' FOR UPDATE")
    return statement, live_params + held_params, lock


#: the caller's transaction is kept usable after a failed decision (see ``decide``)
SAVEPOINT = "glasspane_admission"


def decide(*, project_id: int, account_id: int, requester_id: int | None, kind: str, spec: dict,
           idempotency_key: str, now, scope: str, want: dict[str, Decimal], cost: Decimal | None,
           forecast: Decimal | None, template: str) -> Decision:
    """Check, lock when the request fits, re-check and record: one round trip (see the module).

    ``scope`` is the text a refusal by an account-narrowed limit names (" on <account>"); ``cost``
    the request's priced budget and ``forecast`` the project's month forecast, or None unpriced.
    """
    statement, fixed, lock = _statement(template)
    orm = tuple(project_id if p == _SENTINEL else p for p in fixed)

    def args(locked: bool) -> tuple:
        head = (project_id, account_id, requester_id, kind, json.dumps(spec), idempotency_key, now, scope,
                cost, forecast, locked, own, *(want[key] for key in COUNTED))
        return head + orm

    connection.ensure_connection()
    raw = connection.connection
    own = connection.get_autocommit()  # else: inside the caller's transaction, locked until it ends
    threshold = raw.prepare_threshold
    raw.prepare_threshold = PREPARE_ONLY_WHEN_ASKED
    with connection.wrap_database_errors:
        try:
            with raw.pipeline():
                control, first, second = psycopg.Cursor(raw), psycopg.Cursor(raw), psycopg.Cursor(raw)
                # inside the caller's transaction a savepoint keeps a failed decision (a duplicate
                # idempotency key) from aborting the caller's work, as an ORM atomic() would
                control.execute("BEGIN" if own else f"SAVEPOINT {SAVEPOINT}", prepare=False)
                first.execute(statement, args(False), prepare=True)
                control.execute(lock, (project_id,), prepare=True)
                second.execute(statement, args(True), prepare=True)
                if own:
                    control.execute("COMMIT", prepare=False)  # releases the lock without waiting for the disk
                    control.execute("SELECT txid_current()", prepare=False)  # a synchronous commit: flushes ours
                else:
                    control.execute(f"RELEASE SAVEPOINT {SAVEPOINT}", prepare=False)
        except BaseException:
            if not raw.closed and raw.info.transaction_status != TransactionStatus.IDLE:  # end the failed block
                if own:
                    raw.execute("ROLLBACK")
                elif raw.info.transaction_status == TransactionStatus.INERROR:
                    raw.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
            raise
        finally:
            raw.prepare_threshold = threshold
        rows = first.fetchone(), second.fetchone()
    row = rows[0] if rows[0][0] != "fits" else rows[1]
    verdict, request_id, key, narrowed, requested, used, lim, message = row[:8]
    return Decision(verdict, request_id, key or "", bool(narrowed), requested, used, lim, message or "")
