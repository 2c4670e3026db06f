"""libvirt lifecycle callbacks -> ObservedEvent (no daemon needed)."""

from datetime import UTC, datetime

import libvirt

from providers.base import EventAction
from providers.libvirt.events import translate

AT = datetime(2026, 11, 1, 10, 3, 17, tzinfo=UTC)


def test_state_changes_map_onto_event_actions_with_words_for_the_detail():
    stopped = translate("u1", "web", libvirt.VIR_DOMAIN_EVENT_STOPPED,
                        libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED, AT)
    assert (stopped.external_id, stopped.action, stopped.at) == ("u1", EventAction.STOPPED, AT)
    assert dict(stopped.details) == {"name": "web", "detail": "destroyed"}
    cases = {
        libvirt.VIR_DOMAIN_EVENT_DEFINED: EventAction.CREATED,
        libvirt.VIR_DOMAIN_EVENT_UNDEFINED: EventAction.DELETED,
        libvirt.VIR_DOMAIN_EVENT_STARTED: EventAction.STARTED,
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED: EventAction.PAUSED,
        libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: EventAction.PAUSED,
        libvirt.VIR_DOMAIN_EVENT_RESUMED: EventAction.RESUMED,
        libvirt.VIR_DOMAIN_EVENT_CRASHED: EventAction.STOPPED,
    }
    for code, action in cases.items():
        assert translate("u1", "web", code, 0, AT).action == action


def test_a_guest_beginning_to_shut_down_is_not_a_change_and_unknown_details_stay_numbers():
    assert translate("u1", "web", libvirt.VIR_DOMAIN_EVENT_SHUTDOWN, 0, AT) is None
    assert translate("u1", "web", 99, 0, AT) is None
    assert translate("u1", "web", libvirt.VIR_DOMAIN_EVENT_STOPPED, 42, AT).details["detail"] == "42"
    crashed = translate("u1", "web", libvirt.VIR_DOMAIN_EVENT_CRASHED, 0, AT)
    assert crashed.details["detail"] == "crashed (panicked)"
