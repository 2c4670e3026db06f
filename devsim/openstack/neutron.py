"""Simulated Neutron (Networking API v2.0), read-only: the network list and one network.

Served under ``/network``: version discovery, ``GET /v2.0/networks`` (``name``, ``id``, ``shared``,
``project_id``/``tenant_id`` filters; a project sees its own networks and the shared ones, an admin all of them) and
``GET /v2.0/networks/{id}``, with Neutron's ``NeutronError`` body for a missing one. Nothing is
written: other methods are 405, as for any route Neutron does not have.
"""

from __future__ import annotations

from werkzeug.routing import Rule

from devsim.openstack.state import Network
from devsim.openstack.wsgi import ApiError, Context, authenticate, isotime, json_response

PUBLIC = frozenset({"versions"})


def rules() -> list[Rule]:
    return [
        Rule("/network", endpoint=versions, methods=["GET"]),
        Rule("/network/v2.0/networks", endpoint=list_networks, methods=["GET"]),
        Rule("/network/v2.0/networks/<network_id>", endpoint=show_network, methods=["GET"]),
    ]


def prepare(ctx: Context, handler) -> None:
    if handler.__name__ not in PUBLIC:
        authenticate(ctx)


def versions(ctx: Context):
    return json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                        "links": [{"href": f"{ctx.base_url}/network/v2.0/", "rel": "self"}]}]})


def _body(network: Network) -> dict:
    return {
        "id": network.id, "name": network.name, "tenant_id": network.project_id, "project_id": network.project_id,
        "admin_state_up": True, "status": "ACTIVE", "subnets": [], "shared": network.shared,
        "router:external": network.external, "mtu": network.mtu, "description": "", "tags": [],
        "availability_zone_hints": [], "availability_zones": ["nova"], "port_security_enabled": True,
        "created_at": isotime(network.created_at), "updated_at": isotime(network.created_at), "revision_number": 1,
    }


def visible_networks(ctx: Context, project_id: str | None = None) -> list[Network]:
    """The networks ``project_id`` (default: the token's) may use; an admin token sees all when listing."""
    admin = ctx.token.is_admin and project_id is None
    project_id = project_id or ctx.token.project_id
    return sorted((n for n in ctx.state.networks.values() if n.visible_to(project_id, admin)), key=lambda n: n.name)


def list_networks(ctx: Context):
    networks = visible_networks(ctx)
    args = ctx.request.args
    for name in ("name", "id"):
        if args.get(name):
            networks = [n for n in networks if getattr(n, name) == args[name]]
    owner = args.get("project_id") or args.get("tenant_id")
    if owner:
        networks = [n for n in networks if n.project_id == owner]
    if args.get("shared"):
        wanted = args["shared"].lower() == "true"
        networks = [n for n in networks if n.shared == wanted]
    return json_response({"networks": [_body(n) for n in networks]})


def show_network(ctx: Context, network_id: str):
    network = ctx.state.networks.get(network_id)
    if network is None or not network.visible_to(ctx.token.project_id, ctx.token.is_admin):
        raise ApiError(404, f"Network {network_id} could not be found.")
    return json_response({"network": _body(network)})
