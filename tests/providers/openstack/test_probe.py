"""Test connection on OpenStack: the probe through ``providers.connection_check`` against the
simulator (Keystone and Nova over HTTP, driven by openstacksdk), and the provider's own errors:
refused credentials, a user without the admin role, nothing listening."""

from __future__ import annotations

import socket

import pytest

from devsim.openstack import seed
from providers import connection_check
from providers.configure import ConfigurationError
from tests.providers.openstack.conftest import ADMIN, MEMBER

pytestmark = pytest.mark.integration


def test_nova_microversion_servers_and_projects(sim):
    result = connection_check.check("openstack", {"auth_url": sim.auth_url}, ADMIN)
    assert result.ok, result.message
    servers, projects = len(sim.state.live_servers()), len(sim.state.projects)
    assert result.probe.counts == {"servers": servers, "projects": projects}
    assert result.message == f"Connected to nova 2.96 at {sim.auth_url}: {servers} servers, {projects} projects"


def test_a_full_page_of_servers_is_a_floor(make_sim):
    server = make_sim(lambda state: seed.generate(state, 30, projects=2))
    result = connection_check.check("openstack", {"auth_url": server.auth_url, "page_size": "10"}, ADMIN)
    assert result.ok and result.probe.counts["servers"] == 10 and result.probe.capped == {"servers"}
    assert "10+ servers" in result.message


def test_refused_credentials_name_the_user_not_the_password(sim):
    result = connection_check.check("openstack", {"auth_url": sim.auth_url}, {**ADMIN, "password": "wrong-pw"})
    assert not result.ok and result.problem == "credentials" and result.problem_label == "Credentials refused"
    assert result.message == (f"Keystone at {sim.auth_url} refused the credentials of user admin "
                              f"(domain Default, project admin) (401)")
    assert "wrong-pw" not in result.message


def test_a_user_without_the_admin_role_is_told_before_saving(sim):
    result = connection_check.check("openstack", {"auth_url": sim.auth_url}, MEMBER)
    assert not result.ok and result.problem == "credentials"
    assert result.message.startswith("admin role required to list the servers of all projects (403")


def test_nothing_listening_is_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = connection_check.check("openstack", {"auth_url": f"http://127.0.0.1:{port}/v3"}, ADMIN)
    assert not result.ok and result.problem == "unreachable"
    assert result.message == f"cannot reach Keystone at http://127.0.0.1:{port}/v3: connection refused at 127.0.0.1:{port}"


def test_no_answer_in_time_is_unreachable_and_bounded():
    """A port that accepts connections but never answers: the check gives up at its own limit."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        result = connection_check.check("openstack", {"auth_url": f"http://127.0.0.1:{port}/v3", "timeout": "30"},
                                        ADMIN, timeout=1)
    assert not result.ok and result.problem == "unreachable" and result.seconds < 5
    assert result.message.startswith("no answer within 1 s")


@pytest.mark.parametrize("url,message", [
    ("http://127.0.0.1:99999/v3", "the port must be a whole number from 1 to 65535"),
    ("not a url", "must start with http:// or https://"),
    ("http://key stone:5000/v3", "needs a host name or address after http://"),
])
def test_a_bad_auth_url_is_a_field_error(url, message):
    with pytest.raises(ConfigurationError) as caught:
        connection_check.check("openstack", {"auth_url": url}, ADMIN)
    assert message in caught.value.settings["auth_url"]
