"""The collector against the fake driver: upserts, segments, deletions, idempotency, isolation."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from devsim.fake import FakeDriver, FakeWorld
from metering import collector
from metering.choices import AccountHealth, RunStatus
from metering.models import CollectionState, RefreshRun, Resource, UsageSegment
from metering.models.inventory import MappingRule
from providers.base import Kind, ObservedResource, ProviderAuthError, ProviderUnavailable, State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def refresh_at(account, world, at):
    world.now = at
    return collector.refresh(account)


def segments(ext):
    return list(UsageSegment.objects.filter(resource__external_id=ext).order_by("start"))


def test_first_refresh_creates_resources_parents_and_open_segments(fake_account, world, project):
    world.put(ObservedResource("h1", Kind.HOST, "host1", State.RUNNING, vcpus=Decimal(32), ram_mb=131072))
    world.put(vm("v1", parent_external_id="h1"))
    run = refresh_at(fake_account, world, T0)
    assert run.status == RunStatus.OK and run.created == 2
    v1 = Resource.objects.get(external_id="v1")
    assert v1.parent.external_id == "h1" and v1.project == project
    assert v1.vcpus == Decimal("2.000") and v1.ram_mb == 2048
    [seg] = segments("v1")
    assert seg.open and seg.start == seg.end == T0 and seg.project == project
    state = CollectionState.objects.get(account=fake_account)
    assert state.health == AccountHealth.OK and state.last_refresh_counts["created"] == 2


def test_unchanged_resource_extends_its_segment_and_resize_splits_it(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    [seg] = segments("v1")
    assert seg.end == T0 + timedelta(minutes=5) and seg.open
    world.put(vm("v1", vcpus="4"))
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=10))
    assert run.updated == 1
    old, new = segments("v1")
    assert (old.vcpus, old.end, old.open) == (Decimal("2.000"), T0 + timedelta(minutes=10), False)
    assert (new.vcpus, new.start, new.open) == (Decimal("4.000"), T0 + timedelta(minutes=10), True)


def test_same_observation_twice_and_an_older_one_change_nothing(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    before = [(s.start, s.end, s.open) for s in segments("v1")]
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert "not newer" in run.error
    world.put(vm("v1", vcpus="8"))
    refresh_at(fake_account, world, T0 + timedelta(minutes=1))  # late, older observation
    assert [(s.start, s.end, s.open) for s in segments("v1")] == before


def test_missing_resource_ends_at_last_observation_and_known_deletion_time_wins(fake_account, world, project):
    world.put(vm("v1"))
    world.put(vm("v2"))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    world.remove("v1")
    world.remove("v2")
    world.deleted = [replace(vm("v2"), deleted_at=T0 + timedelta(minutes=7))]
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=10))
    assert run.deleted == 2
    [s1], [s2] = segments("v1"), segments("v2")
    assert s1.end == T0 + timedelta(minutes=5) and not s1.open
    assert s2.end == T0 + timedelta(minutes=7) and not s2.open
    v1 = Resource.objects.get(external_id="v1")
    assert v1.state == State.DELETED and v1.deleted_at == T0 + timedelta(minutes=5)


def test_long_gap_without_lifecycle_evidence_is_estimated(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(hours=2))  # max gap is 3 x 300 s
    segs = segments("v1")
    assert [(s.start, s.end, s.estimated) for s in segs] == [
        (T0, T0 + timedelta(hours=2), True),
        (T0 + timedelta(hours=2), T0 + timedelta(hours=2), False),
    ]


def test_long_gap_vouched_by_started_at_is_trusted(fake_account, world, project):
    world.put(vm("v1", started_at=T0 - timedelta(days=1)))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(hours=2))
    [seg] = segments("v1")
    assert not seg.estimated and seg.end == T0 + timedelta(hours=2)


def test_project_move_splits_at_the_observation(fake_account, world, project):
    from metering.models import Project

    beta = Project.objects.create(slug="beta", name="Beta")
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    world.put(vm("v1", project="beta"))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    a, b = segments("v1")
    assert (a.project, b.project) == (project, beta)
    assert a.end == b.start == T0 + timedelta(minutes=5)


def test_name_pattern_rule_maps_unhinted_resources(fake_account, world, project):
    MappingRule.objects.create(source="name", value=r"^alpha-", project=project)
    world.put(vm("v1", name="alpha-web", project=None))
    world.put(vm("v2", name="other", project=None))
    refresh_at(fake_account, world, T0)
    assert Resource.objects.get(external_id="v1").project == project
    assert Resource.objects.get(external_id="v2").project is None


def test_failing_provider_marks_only_itself_unhealthy_and_keeps_its_records(make_account, world, project):
    other = FakeWorld(now=T0)
    FakeDriver.worlds["other"] = other
    try:
        good = make_account(name="good", world_name="other")
        bad = make_account(name="bad", world_name=world_name(world))
        world.put(vm("b1"))
        other.put(vm("g1"))
        refresh_at(bad, world, T0)
        world.fail = ProviderAuthError("credentials refused by fake: check the token")
        run = refresh_at(bad, world, T0 + timedelta(minutes=5))
        assert run.status == RunStatus.FAILED and "credentials refused" in run.error
        refresh_at(good, other, T0 + timedelta(minutes=5))
        bad, good = CollectionState.objects.get(account=bad), CollectionState.objects.get(account=good)
        assert bad.health == AccountHealth.UNHEALTHY and "check the token" in bad.health_message
        assert good.health == AccountHealth.OK
        b1 = Resource.objects.get(external_id="b1")
        assert b1.deleted_at is None and segments("b1")[0].end == T0
    finally:
        FakeDriver.worlds.pop("other", None)


def world_name(world):
    return next(k for k, v in FakeDriver.worlds.items() if v is world)


def test_unavailable_is_recorded_then_raised_for_retry(fake_account, world):
    world.fail = ProviderUnavailable("fake is down")
    with pytest.raises(ProviderUnavailable):
        collector.refresh(fake_account)
    run = RefreshRun.objects.get()
    assert run.status == RunStatus.FAILED and "fake is down" in run.error


def test_single_flight_skips_a_second_refresh(fake_account, world):
    assert collector.acquire_lease(fake_account, "someone-else", ttl=60)
    run = collector.refresh(fake_account)
    assert run.status == RunStatus.SKIPPED and "another refresh" in run.error
    collector.release_lease(fake_account, "someone-else")
    assert collector.refresh(fake_account).status == RunStatus.OK


def test_queries_grow_with_batches_not_resources(fake_account, world, project, django_assert_max_num_queries):
    for i in range(300):
        world.put(vm(f"v{i}"))
    refresh_at(fake_account, world, T0)
    for i in range(0, 300, 3):
        world.put(vm(f"v{i}", vcpus="4"))
    world.now = T0 + timedelta(minutes=5)
    with django_assert_max_num_queries(40):
        collector.refresh(fake_account)
    assert UsageSegment.objects.filter(open=True).count() == 300
    assert UsageSegment.objects.count() == 400


def test_first_seen_resources_are_dated_by_their_own_start_and_never_before_the_lookback(fake_account, world,
                                                                                          project, settings):
    """The first-seen rule for every provider with lifecycle times (Docker StartedAt, Nova
    launched_at): running since started_at; stopped after running started_at..finished_at;
    clipped at the lookback (GLASSPANE_LOOKBACK_DAYS, default the month's start)."""
    settings.GLASSPANE_LOOKBACK_DAYS = 0
    at = T0 + timedelta(days=3)
    world.put(vm("up", started_at=at - timedelta(hours=2)))
    world.put(vm("old", started_at=T0 - timedelta(days=40)))
    world.put(vm("off", state=State.STOPPED, started_at=at - timedelta(hours=5), finished_at=at - timedelta(hours=1)))
    refresh_at(fake_account, world, at)
    assert [(s.start, s.end) for s in segments("up")] == [(at - timedelta(hours=2), at)]
    assert segments("old")[0].start == T0  # the start of the month
    assert [(s.state, s.start, s.end) for s in segments("off")] == [
        (State.RUNNING, at - timedelta(hours=5), at - timedelta(hours=1)),
        (State.STOPPED, at - timedelta(hours=1), at)]
    world.put(vm("late", started_at=at - timedelta(hours=1)))  # started before the 2nd refresh saw it
    refresh_at(fake_account, world, at + timedelta(minutes=5))
    assert segments("late")[0].start == at  # never before the previous refresh


def test_deleted_before_the_first_refresh_within_the_lookback_are_recorded(fake_account, world, project):
    at = T0 + timedelta(days=3)
    world.put(vm("live", started_at=at - timedelta(hours=1)))
    world.deleted = [
        vm("gone", state=State.STOPPED, started_at=at - timedelta(hours=6), deleted_at=at - timedelta(hours=4)),
        vm("ancient", state=State.STOPPED, started_at=T0 - timedelta(days=9), deleted_at=T0 - timedelta(days=8)),
    ]
    refresh_at(fake_account, world, at)
    gone = Resource.objects.get(external_id="gone")
    assert gone.state == State.DELETED and gone.deleted_at == at - timedelta(hours=4)
    assert [(s.start, s.end, s.open) for s in segments("gone")] == [
        (at - timedelta(hours=6), at - timedelta(hours=4), False)]
    assert not Resource.objects.filter(external_id="ancient").exists()  # before the lookback
    refresh_at(fake_account, world, at + timedelta(minutes=5))  # told again: nothing changes
    assert len(segments("gone")) == 1
