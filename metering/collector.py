"""The collector: one refresh of one account, from driver to ledger.

``refresh(account)`` asks the driver for inventory and samples, then writes everything in one
transaction: resources upserted, segments extended/closed/opened by ``metering.accounting``,
samples appended with their deltas, hourly rollups recomputed for the hours touched. Writes are
bulk, so the number of queries grows with batches, not with resources.

A refresh is single-flight per account (a lease on the account row, taken by a conditional
UPDATE that works on every database), so overlapping triggers never run in parallel. Whatever
the driver raises, nothing half-written is kept and every other account is untouched.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from metering import accounting, daily
from metering import events as lifecycle_events
from metering import samples as raw_samples
from metering.accounting import Attrs, Obs, Seg
from metering.bulk import set_for_ids, update_values
from metering.choices import AccountHealth, ResourceKind, RunStatus
from metering.mapping import ProjectMapper, sync_external_projects
from metering.models import (
    CollectionState,
    ExternalProject,
    ProviderUsage,
    RefreshRun,
    Resource,
    UsageSegment,
)
from metering.rollups import rollup_hours
from providers.base import (
    Capability,
    Inventory,
    ObservedResource,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    State,
    UsageTotals,
    one_line,
    to_decimal,
)
from providers.base import (
    UtilizationSample as ObservedSample,
)
from providers.heap import gc_paused
from providers.models import ProviderAccount

log = logging.getLogger(__name__)

#: sent after a refresh's writes are committed; quotas listen for breach detection
refresh_applied = Signal()  # kwargs: account, run

BATCH = 1000
DESCRIPTIVE = ("kind", "name", "image", "flavor", "labels", "properties", "project_hint",
               "created_at", "started_at", "finished_at")


def lookback_start(at: datetime) -> datetime:
    """How far back the first refresh of an account looks (``GLASSPANE_LOOKBACK_DAYS`` days before
    ``at``; 0, the default: the start of ``at``'s month, UTC). Resources already running are counted
    from their own start time, and resources deleted before the first refresh are recorded, but
    nothing before this moment."""
    days = settings.GLASSPANE_LOOKBACK_DAYS
    if days:
        return at - timedelta(days=days)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def max_gap(account: ProviderAccount) -> timedelta:
    seconds = settings.GLASSPANE_MAX_GAP or settings.GLASSPANE_MAX_GAP_FACTOR * account.refresh_interval
    return timedelta(seconds=seconds)


# -- single flight -------------------------------------------------------------------------------------


def acquire_lease(account: ProviderAccount, owner: str, ttl: float) -> bool:
    now = timezone.now()
    CollectionState.of(account)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
    taken = CollectionState.objects.filter(
        Q(account=account) & free
    ).update(lease_owner=owner, lease_until=now + timedelta(seconds=ttl))
    return taken == 1


class Heartbeat:
    """Keeps a refresh's lease short and alive: a thread renews it every ``GLASSPANE_LEASE_HEARTBEAT``
    seconds for ``GLASSPANE_LEASE_TTL`` seconds more, while the refresh runs. A worker that dies
    stops renewing, so the lease lapses within the TTL (two minutes by default, not the task's
    15-minute time limit) and the next refresh of the account proceeds; the reaper
    (``metering.tasks.reap_runs``) ends the dead run as abandoned once its lease has lapsed."""

    def __init__(self, account: ProviderAccount, owner: str):
        self.account, self.owner = account, owner
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{owner}", daemon=True)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(settings.GLASSPANE_LEASE_HEARTBEAT):
                try:
                    CollectionState.objects.filter(account=self.account, lease_owner=self.owner).update(
                        lease_until=timezone.now() + timedelta(seconds=settings.GLASSPANE_LEASE_TTL))
                except Exception:  # noqa: BLE001 - a missed beat only shortens the lease; the next one retries
                    log.warning("lease heartbeat of %s missed a beat", self.owner, exc_info=True)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        return False


def last_observed(account: ProviderAccount):
    """The provider's clock at the last complete inventory applied (None before the first)."""
    return CollectionState.objects.filter(account=account).values_list("last_observed_at", flat=True).first()


def release_lease(account: ProviderAccount, owner: str) -> None:
    CollectionState.objects.filter(account=account, lease_owner=owner).update(lease_owner="", lease_until=None)


# -- one refresh -----------------------------------------------------------------------------------------


def new_run(account: ProviderAccount, trigger: str) -> RefreshRun:
    """The one place a refresh run is created (queued; ``refresh`` starts it)."""
    return RefreshRun.objects.create(account=account, trigger=trigger)


def refresh(account: ProviderAccount, *, run: RefreshRun | None = None, trigger: str = "manual") -> RefreshRun:
    """Refresh ``account`` now, in this process. Re-raises ``ProviderUnavailable`` after recording
    it, so a Celery task can retry; every other provider error is recorded and swallowed."""
    run = run or new_run(account, trigger)
    # the lease belongs to the run, so a task redelivered after its worker died takes it back
    owner = f"run:{run.pk}"
    if not acquire_lease(account, owner, ttl=settings.GLASSPANE_LEASE_TTL):
        run.status = RunStatus.SKIPPED
        run.finished_at = timezone.now()
        run.error = "another refresh of this account was running"
        run.save(update_fields=["status", "finished_at", "error"])
        return run
    started = time.monotonic()
    run.status, run.started_at = RunStatus.RUNNING, timezone.now()
    run.save(update_fields=["status", "started_at"])
    CollectionState.objects.filter(account=account).update(last_refresh_started=run.started_at)
    try:
        with Heartbeat(account, owner):
            inventory, samples, usage, sample_issue = _observe(account)
            with transaction.atomic():
                apply(account, inventory, samples, run)
                _store_provider_usage(account, usage)
        if sample_issue:
            run.issues.append({"external_id": "", "message": sample_issue})
        run.status = RunStatus.PARTIAL if run.issues else RunStatus.OK
        _finish(account, run, started, health=AccountHealth.OK, message=_summary(run))
    except ProviderUnavailable as exc:
        _fail(account, run, started, exc)
        raise
    except (ProviderAuthError, ProviderDataError, ProviderError) as exc:
        _fail(account, run, started, exc)
    except BaseException as exc:  # a bug or a lost database: record it on the run, then let it propagate
        _fail(account, run, started, ProviderError(f"internal error while refreshing: {exc!r}"))
        raise
    finally:
        release_lease(account, owner)
    transaction.on_commit(lambda: refresh_applied.send(sender=ProviderAccount, account=account, run=run))
    return run


def _observe(account: ProviderAccount) -> tuple[Inventory, list[ObservedSample], list[UsageTotals], str]:
    with account.driver() as driver:
        # the first refresh also asks for what was deleted within the lookback window
        inventory = driver.inventory(since=last_observed(account) or lookback_start(timezone.now()))
        samples, usage, issue = [], [], ""
        try:
            if driver.supports(Capability.SAMPLES):
                samples = driver.samples()
            if driver.supports(Capability.USAGE_REPORT):
                month = inventory.observed_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                usage = [driver.usage_report(p.external_id, month, inventory.observed_at) for p in inventory.projects]
        except ProviderError as exc:  # the inventory is still good; say what is missing
            issue = f"utilization or provider usage unavailable: {exc}"
    return inventory, samples, usage, issue


def _store_provider_usage(account: ProviderAccount, usage: list[UsageTotals]) -> None:
    """Keep the provider's own month-to-date totals beside ours (one row per project and month)."""
    projects = {e.external_id: e for e in ExternalProject.objects.filter(account=account)}
    for totals in usage:
        external = projects.get(totals.project_ref)
        if external is None:
            continue
        ProviderUsage.objects.update_or_create(
            external_project=external, start=totals.start,
            defaults={"account": account, "end": totals.end, "vcpu_hours": totals.vcpu_hours,
                      "ram_mb_hours": totals.ram_mb_hours, "disk_gb_hours": totals.disk_gb_hours,
                      "instance_hours": totals.instance_hours},
        )


def _summary(run: RefreshRun) -> str:
    text = (f"{run.created} new, {run.updated} changed, {run.unchanged} unchanged, "
            f"{run.deleted} deleted, {run.samples} samples")
    if run.issues:
        text += f"; {len(run.issues)} record(s) could not be read: {run.issues[0]['message']}"
    for skipped in run.skipped:
        text += f"; {skipped}"
    return text


def _finish(account, run, started, *, health, message) -> None:
    run.finished_at = timezone.now()
    run.duration = time.monotonic() - started
    run.save()
    CollectionState.objects.filter(account=account).update(
        health=health,
        health_message=message,
        health_checked_at=run.finished_at,
        last_refresh_finished=run.finished_at,
        last_refresh_duration=run.duration,
        last_refresh_counts=run.counts,
        last_refresh_error=run.error,
    )


def _fail(account, run, started, exc: ProviderError) -> None:
    run.status = RunStatus.FAILED
    message = one_line(str(exc))  # never an upstream's raw body on a staff page
    run.error = f"{type(exc).__name__}: {message}"
    log.warning("refresh of %s failed: %s", account.name, run.error)
    _finish(account, run, started, health=AccountHealth.UNHEALTHY, message=message)


# -- applying observations -----------------------------------------------------------------------------

#: what a resource row holds from one observation, compared with what is stored to tell a change
COMPARED = (*DESCRIPTIVE, "project_id", "state", "vcpus", "ram_mb", "disk_gb")
#: the fields a changed resource's update writes: the compared ones, then ``last_seen`` and ``deleted_at``
UPDATED = [*DESCRIPTIVE, "project", "state", "vcpus", "ram_mb", "disk_gb", "last_seen", "deleted_at"]
_STORED = ("id", "external_id", "last_seen", "deleted_at", "parent_id", *COMPARED)
_OPEN = ("id", "resource_id", "project_id", "state", "vcpus", "ram_mb", "disk_gb", "flavor", "start", "end",
         "estimated")


class Stored:
    """A stored resource as a refresh reads it: one tuple, no model instance. ``compared`` holds its
    ``COMPARED`` columns, so an unchanged observation costs one tuple comparison. Like a new
    ``Resource``, it has the ``pk`` and ``parent_id`` the samples and parent links use."""

    __slots__ = ("pk", "account_id", "external_id", "kind", "last_seen", "deleted_at", "parent_id", "compared")

    def __init__(self, account_id, values):
        self.pk, self.external_id, self.last_seen, self.deleted_at, self.parent_id = values[:5]
        self.compared = values[5:]
        self.account_id = account_id
        self.kind = self.compared[0]


@dataclass
class _Open:
    """A resource's open segment as stored: its id and its accounting form."""

    pk: int
    seg: Seg


@dataclass
class _Plan:
    """Everything one refresh writes, gathered first so it can be written in bulk."""

    create: list[Resource] = field(default_factory=list)
    update: list[Stored] = field(default_factory=list)  # changed rows: every UPDATED field
    gone: list[tuple] = field(default_factory=list)  # (id, state, deleted_at) of rows deleted now
    touch: list[int] = field(default_factory=list)  # unchanged rows: only last_seen moves
    extend: dict[datetime, list[int]] = field(default_factory=lambda: defaultdict(list))  # end -> seg ids
    seg_update: list[tuple] = field(default_factory=list)  # (id, start, end, open, estimated)
    seg_create: list[tuple[Resource | Stored, Seg]] = field(default_factory=list)
    spans: list[tuple[Resource | Stored, datetime, datetime]] = field(default_factory=list)  # changed segment time


def _attrs(found: ObservedResource, project_id: int | None) -> Attrs:
    return Attrs(project_id, found.state, found.vcpus, found.ram_mb, found.disk_gb, found.flavor or "")


def apply(account: ProviderAccount, inventory: Inventory, samples: list[ObservedSample], run: RefreshRun) -> None:
    """Write one inventory (and its samples) for ``account``; call inside a transaction."""
    with gc_paused():
        _apply(account, inventory, samples, run)


def _apply(account: ProviderAccount, inventory: Inventory, samples: list[ObservedSample], run: RefreshRun) -> None:
    at = inventory.observed_at
    run.observed_at = at
    # a write first: it locks the account row (PostgreSQL) or the database (SQLite) until commit,
    # so two applies for one account serialise and the second sees what the first wrote
    ProviderAccount.objects.filter(pk=account.pk).update(updated_at=timezone.now())
    run.issues = [{"external_id": i.external_id, "message": i.message} for i in inventory.issues]
    run.skipped = list(dict.fromkeys(inventory.skipped))
    account.refresh_from_db(fields=["settings"])
    last_observed_at = last_observed(account)
    sync_external_projects(account, inventory.projects, dict(inventory.project_facts), at,
                           auto_create=bool(account.settings.get("auto_create_projects")), quotas=inventory.quotas)
    if last_observed_at and at <= last_observed_at:
        run.error = f"inventory observed at {at.isoformat()} is not newer than the last one applied; ignored"
        return
    mapper = ProjectMapper(account)
    gap = max_gap(account)
    # a resource never seen before is dated by its own lifecycle times, back to the lookback start
    # (first refresh) or to the previous observation (later ones), never earlier
    not_before = last_observed_at or lookback_start(at)
    # recorded lifecycle events date the changes this inventory shows (metering.events)
    times = lifecycle_events.event_times(account, last_observed_at, at)
    existing = {row.external_id: row for row in (Stored(account.pk, values) for values in
                                                  Resource.objects.filter(account=account).values_list(*_STORED))}
    open_segs = {values[1]: _Open(values[0], _stored_seg(values)) for values in
                 UsageSegment.objects.filter(account=account, open=True).values_list(*_OPEN)}
    plan = _Plan()
    seen: dict[str, Resource | Stored] = {}

    for found in inventory.resources:
        found = _screen(found, run.issues)
        if found is None:
            continue
        ext = found.external_id
        if ext in seen:
            run.issues.append({"external_id": ext, "message": "reported twice; first kept"})
            continue
        project_id = mapper.project_id(found)
        obs = Obs(at, _attrs(found, project_id), *lifecycle_events.dated(found, times.get(ext)))
        values = _observed(found, project_id)
        row = existing.get(ext)
        if row is None:
            row = _new_resource(account.pk, ext, values, at, at)
            plan.create.append(row)
            plan.seg_create.extend((row, seg) for seg in accounting.first(obs, not_before).added)
            seen[ext] = row
            continue
        seen[ext] = row
        if row.last_seen >= at and row.deleted_at is None:
            continue  # an older observation of this resource arrived late
        revived = row.deleted_at is not None
        changed = revived or values != row.compared
        row.compared, row.kind, row.last_seen, row.deleted_at = values, found.kind, at, None
        open_seg = open_segs.get(row.pk)
        if open_seg is None or revived:
            plan.seg_create.append((row, accounting.first(obs).added[0]))
        else:
            _plan_change(plan, row, open_seg, accounting.advance(open_seg.seg, obs, gap))
        if changed:
            plan.update.append(row)
        else:
            plan.touch.append(row.pk)
    run.created, run.updated, run.unchanged = len(plan.create), len(plan.update), len(plan.touch)

    # deletions: what the provider says it deleted, and (for a complete inventory) what is missing
    deleted_at = {d.external_id: d.deleted_at for d in inventory.deleted}
    gone = [r for ext, r in existing.items() if r.deleted_at is None and ext not in seen
            and (inventory.complete or ext in deleted_at)]
    for row in gone:
        when = deleted_at.get(row.external_id) or getattr(times.get(row.external_id), "gone_at", None)
        open_seg = open_segs.get(row.pk)
        if open_seg is not None:
            change = accounting.end(open_seg.seg, when)
            _plan_change(plan, row, open_seg, change)
            when = change.current.end
        row.deleted_at = max(when or row.last_seen, row.last_seen)
        plan.gone.append((row.pk, State.DELETED, row.deleted_at))
    run.deleted = len(gone)
    run.deleted += _lived_unseen(account, inventory, existing, seen, mapper, not_before, plan)

    parents = _parents(account, inventory, seen)
    _write(plan, at, parents)
    _link_parents(seen, parents)
    run.samples = _write_samples(account, seen, samples)
    CollectionState.objects.filter(account=account).update(last_observed_at=at)


def _stored_seg(values) -> Seg:
    _, _, project_id, state, vcpus, ram_mb, disk_gb, flavor, start, end, estimated = values
    return Seg(Attrs(project_id, state, vcpus, ram_mb, disk_gb, flavor), start, end, True, estimated)


#: text the collector stores in ``Resource`` columns of a fixed length: cut to size, with a warning
_TEXT = ("name", "image", "flavor", "project_hint")
_TEXT_LIMITS = tuple((name, Resource._meta.get_field(name).max_length) for name in _TEXT)
_ID_MAX = Resource._meta.get_field("external_id").max_length
_KINDS = frozenset(ResourceKind.values)
#: sizes and the largest value their columns hold (DecimalField digits before the point, BigInteger)
_SIZE_LIMITS = {"vcpus": Decimal(10) ** 7, "disk_gb": Decimal(10) ** 11, "ram_mb": Decimal(2) ** 63}


def _known_kind(kind) -> bool:
    try:
        return kind in _KINDS
    except TypeError:  # unhashable: no kind
        return False


def _size_number(value):
    """``value`` as a Decimal (or int) to check against a column, or None when it is no number."""
    if type(value) is int or type(value) is Decimal:  # exact already (bool is not a size)
        return value
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _screen(found: ObservedResource, issues: list) -> ObservedResource | None:
    """A record the database can store, or None: one bad record never stops a refresh.

    Over-long text is cut to its column (a warning on the run), NUL characters dropped; a record
    whose id does not fit, whose kind is unknown, or whose sizes are not sizes (NaN, infinite,
    negative, beyond the column) is skipped with an issue on the run, and everything else is
    collected.
    """
    ext = found.external_id
    if not isinstance(ext, str) or not ext or len(ext) > _ID_MAX or "\x00" in ext:
        issues.append({"external_id": str(ext)[:_ID_MAX].replace("\x00", ""),
                       "message": f"record skipped: its id is empty or longer than {_ID_MAX} characters"})
        return None
    problems = []
    if not _known_kind(found.kind):
        problems.append(f"unknown kind {str(found.kind)[:40]!r}")
    for name, limit in _SIZE_LIMITS.items():
        value = getattr(found, name)
        if value is None:
            continue
        number = _size_number(value)
        if number is None or (type(number) is Decimal and not number.is_finite()) or number < 0 \
                or number >= limit or (name == "ram_mb" and number != int(number)):
            problems.append(f"{name} {str(value)[:40]!r} is not a size")
    if problems:
        issues.append({"external_id": ext, "message": f"record skipped: {'; '.join(problems)}"})
        return None
    changes, cut = {}, []
    for name, limit in _TEXT_LIMITS:
        value = getattr(found, name)
        if value is None or (type(value) is str and len(value) <= limit and "\x00" not in value):
            continue  # nothing to cut or drop
        text = str(value).replace("\x00", "")
        if len(text) > limit:
            cut.append(f"{name} ({len(text)} characters)")
            text = text[:limit]
        if text != value:
            changes[name] = text
    if cut:
        issues.append({"external_id": ext, "message": f"cut to size: {', '.join(cut)}"})
    return dataclasses.replace(found, **changes) if changes else found


def _lived_unseen(account, inventory: Inventory, existing, seen, mapper, not_before, plan: _Plan) -> int:
    """Record resources the provider says were deleted that we never saw (created and deleted
    between two refreshes, or before the first within the lookback): their real times, counted."""
    recorded = 0
    for found in inventory.deleted:
        if found.external_id in existing or found.external_id in seen:
            continue
        if found.started_at is None or found.deleted_at is None:
            continue
        project_id = mapper.project_id(found)
        seg = accounting.lifetime(_attrs(found, project_id), found.started_at, found.deleted_at, not_before)
        if seg is None:
            continue
        values = _observed(found, project_id)
        values = (*values[:COMPARED.index("state")], State.DELETED, *values[COMPARED.index("state") + 1:])
        row = _new_resource(account.pk, found.external_id, values, seg.start, found.deleted_at,
                            deleted_at=found.deleted_at)
        plan.create.append(row)
        plan.seg_create.append((row, seg))
        recorded += 1
    return recorded


_BLANK_IF_NONE = ("image", "flavor", "project_hint")


def _plain(name: str, value):
    """A driver value as the model stores it: mappings as plain dicts, missing text as ''."""
    if type(value) is str:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    if value is None and name in _BLANK_IF_NONE:
        return ""
    return value


def _observed(found: ObservedResource, project_id) -> tuple:
    """What the resource's row holds after this observation, in ``COMPARED`` order (sizes rounded
    the way the database stores them, so the comparison with the stored row is exact)."""
    return (*[_plain(name, getattr(found, name)) for name in DESCRIPTIVE],
            project_id, found.state, to_decimal(found.vcpus), found.ram_mb, to_decimal(found.disk_gb))


def _positional(model, names: tuple[str, ...]):
    """A constructor of ``model`` from values in ``names`` order (attnames; any field not named
    takes its default): Django's positional form skips the per-keyword work that costs most of
    ``model(**kwargs)``."""
    fields = model._meta.concrete_fields
    unknown = set(names) - {f.attname for f in fields}
    if unknown:
        raise ImproperlyConfigured(f"{model.__name__} has no field {sorted(unknown)}")
    index = {name: i for i, name in enumerate(names)}
    plan = [(index.get(f.attname), f.get_default) for f in fields]
    return lambda values: model(*[default() if i is None else values[i] for i, default in plan])


_RESOURCE = _positional(Resource, ("id", "account_id", "external_id", *COMPARED, "first_seen", "last_seen",
                                   "deleted_at", "parent_id"))
_SEGMENT = _positional(UsageSegment, ("id", "resource_id", "account_id", "kind", "project_id", "state", "vcpus",
                                      "ram_mb", "disk_gb", "flavor", "start", "end", "open", "estimated"))


def _new_resource(account_id, external_id, values, first_seen, last_seen, deleted_at=None) -> Resource:
    return _RESOURCE((None, account_id, external_id, *values, first_seen, last_seen, deleted_at, None))


def _plan_change(plan: _Plan, row, open_seg: _Open, change: accounting.Change) -> None:
    if change.is_noop:
        return
    current, old = change.current, open_seg.seg
    if current is not None:
        only_end = (current.open and not change.added and current.start == old.start
                    and current.estimated == old.estimated)
        if only_end:  # only the time after the old end changed
            plan.spans.append((row, old.end, current.end))
            plan.extend[current.end].append(open_seg.pk)
        else:
            plan.spans.append((row, min(old.start, current.start), max(old.end, current.end)))
            plan.seg_update.append((open_seg.pk, current.start, current.end, current.open, current.estimated))
    for seg in change.added:
        plan.seg_create.append((row, seg))


def _write(plan: _Plan, at: datetime, parents: dict) -> None:
    _insert_resources(plan.create, parents)
    update_values(Resource, UPDATED, [(row.pk, *row.compared, at, None) for row in plan.update])
    update_values(Resource, ["state", "deleted_at"], plan.gone)
    set_for_ids(Resource, plan.touch, last_seen=at)
    for end, ids in plan.extend.items():
        set_for_ids(UsageSegment, ids, end=end)
    # close before opening: at most one open segment per resource at any moment
    update_values(UsageSegment, ["start", "end", "open", "estimated"], plan.seg_update)
    UsageSegment.objects.bulk_create(
        [
            _SEGMENT((None, row.pk, row.account_id, row.kind, seg.attrs.project_id, seg.attrs.state, seg.attrs.vcpus,
                      seg.attrs.ram_mb, seg.attrs.disk_gb, seg.attrs.flavor, seg.start, seg.end, seg.open,
                      seg.estimated))
            for row, seg in plan.seg_create
        ],
        batch_size=BATCH,
    )
    spans = [(row.pk, lo, hi) for row, lo, hi in plan.spans]
    spans += [(row.pk, seg.start, seg.end) for row, seg in plan.seg_create]
    daily.segments_changed(spans, at)


def _insert_resources(rows: list[Resource], parents: dict) -> None:
    """Insert new resources with their parents already set, so a first refresh needs no second
    statement to link them: parents first, level by level (a host, then its VMs, then their
    containers), each level in the order found. A parent cycle among new rows is left to
    ``_link_parents``."""
    new = {id(row) for row in rows}

    def new_parent(row):
        target = parents.get(row.external_id)
        return target if target is not None and id(target) in new else None

    depth: dict[int, int] = {}
    for row in rows:
        chain, on_chain, node = [], set(), row
        while node is not None and id(node) not in depth and id(node) not in on_chain:
            chain.append(node)
            on_chain.add(id(node))
            node = new_parent(node)
        if node is not None and id(node) in on_chain:  # a cycle: linked after the insert
            depth.update((id(r), 0) for r in chain)
            continue
        level = depth[id(node)] + 1 if node is not None else 0
        for r in reversed(chain):
            depth[id(r)] = level
            level += 1
    levels: dict[int, list[Resource]] = defaultdict(list)
    for row in rows:
        levels[depth[id(row)]].append(row)
    for level in sorted(levels):
        for row in levels[level]:
            row.parent_id = _parent_pk(parents.get(row.external_id))
        Resource.objects.bulk_create(levels[level], batch_size=BATCH)


def _parent_pk(target) -> int | None:
    """A parent as ``_parents`` gives it (a row of this refresh, another account's id, None) as an id."""
    if target is None or isinstance(target, int):
        return target
    return target.pk


def _parents(account, inventory: Inventory, seen: dict) -> dict:
    """Each seen resource's parent from the driver's hints (the last record of an id wins): a row of
    this refresh (a same-account id), a resource id found by name in another account, or None."""
    by_name_wanted = {f.parent_match["name"] for f in inventory.resources
                      if f.parent_match and f.parent_match.get("name") and not f.parent_external_id}
    by_name = {}
    if by_name_wanted:
        for pk, name in (Resource.objects.live().exclude(account=account)
                         .filter(name__in=by_name_wanted, kind__in=["vm", "host"]).values_list("pk", "name")):
            by_name.setdefault(name, pk)
    parents = {}
    for found in inventory.resources:
        if found.external_id not in seen:
            continue
        parent = None
        if found.parent_external_id and found.parent_external_id in seen:
            parent = seen[found.parent_external_id]
        elif found.parent_match and found.parent_match.get("name"):
            parent = by_name.get(found.parent_match["name"])
        parents[found.external_id] = parent
    return parents


def _link_parents(seen: dict, parents: dict) -> None:
    """Set the parents that differ from what is stored (new rows mostly have theirs already)."""
    changed = []
    for ext, target in parents.items():
        row = seen[ext]
        parent = _parent_pk(target)
        if row.parent_id != parent:
            row.parent_id = parent
            changed.append((row.pk, parent))
    update_values(Resource, ["parent"], changed)


def _delta(now, before):
    if now is None or before is None or now < before:
        return None  # missing, or the counter was reset (a restart): no trustworthy delta
    return now - before


def _write_samples(account, seen: dict[str, Resource], samples: list[ObservedSample]) -> int:
    """Store each sample newer than its resource's last one, with its deltas; roll up the hours and
    resources sampled. Rows are plain tuples (``metering.samples``): no model instance per sample."""
    ids = {res.pk for res in map(seen.get, {s.external_id for s in samples}) if res is not None}
    last = raw_samples.last_counters(ids)  # {resource id: (at, cpu_time_ns, net, disk)}
    rows, newest = [], {}
    for s in samples:
        res = seen.get(s.external_id)
        if res is None:
            continue
        pk = res.pk
        prev_at, prev_cpu, prev_net, prev_disk = newest.get(pk) or last.get(pk) or (None,) * 4
        if prev_at is not None and s.at <= prev_at:
            continue  # duplicate or late sample
        interval = (s.at - prev_at).total_seconds() if prev_at else None
        cpu = _delta(s.cpu_time_ns, prev_cpu) if prev_at else None
        net_now = _sum(s.net_rx_bytes, s.net_tx_bytes)
        disk_now = _sum(s.disk_read_bytes, s.disk_write_bytes)
        rows.append((
            pk, s.at, interval, s.cpu_time_ns, cpu / 1e9 if cpu is not None else None,
            _float(s.memory_used_mb), _float(s.memory_total_mb),
            s.net_rx_bytes, s.net_tx_bytes, s.disk_read_bytes, s.disk_write_bytes,
            _delta(net_now, prev_net) if prev_at else None,
            _delta(disk_now, prev_disk) if prev_at else None,
        ))
        newest[pk] = (s.at, s.cpu_time_ns, net_now, disk_now)
    raw_samples.insert(rows)
    raw_samples.store_last([(pk, *counters) for pk, counters in newest.items()])
    if rows:
        rollup_hours(min(r[1] for r in rows), max(r[1] for r in rows), account=account, resources=list(newest))
    return len(rows)


def _sum(a, b):
    return None if a is None and b is None else (a or 0) + (b or 0)


def _float(value):
    return float(value) if value is not None else None
