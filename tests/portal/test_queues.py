"""Work queues: every task of ours is routed, by name, to the queue of its kind; the visibility
timeout is checked against the longest task."""

from __future__ import annotations

from django.conf import settings
from django.test import override_settings

from portal.celery import app
from portal.checks import visibility_timeout_above_task_limit

QUEUES = {"refresh", "provisioning", "reports", "housekeeping"}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_every_task_of_ours_is_routed_explicitly_to_a_queue_of_its_kind():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if name.split(".")[0] in ("metering", "portal", "providers")}
    routed = set(settings.CELERY_TASK_ROUTES)
    assert ours - routed == set(), "tasks without a route: add them to GLASSPANE_QUEUE_TASKS"
    assert {queue_of(name) for name in ours} == QUEUES


def test_a_slow_provider_cannot_starve_provisioning():
    assert queue_of("metering.refresh_account") == "refresh"
    assert queue_of("metering.provision_request") == "provisioning"
    assert queue_of("metering.resource_action") == "provisioning"
    assert queue_of("metering.rollup_utilization") == "reports"
    assert queue_of("metering.dispatch_refreshes") == "housekeeping"
    assert queue_of("someone.elses_task") == "housekeeping"  # the default queue


def test_a_worker_without_dash_q_consumes_every_queue():
    assert {queue.name for queue in app.conf.task_queues} == QUEUES
    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1


def test_visibility_timeout_must_exceed_the_task_time_limit():
    with override_settings(CELERY_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 900}, CELERY_TASK_TIME_LIMIT=900):
        errors = visibility_timeout_above_task_limit(None)
    assert [e.id for e in errors] == ["portal.E001"] and "900 s" in errors[0].msg
    with override_settings(CELERY_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 1800}, CELERY_TASK_TIME_LIMIT=900):
        assert visibility_timeout_above_task_limit(None) == []
