"""Simulated Nova (Compute API v2.1 with microversions 2.1 - 2.96).

Served under ``/compute``: version discovery (``/compute/`` and ``/compute/v2.1/``), servers (list,
detail with ``limit``/``marker``/``all_tenants``/``project_id``/``changes-since`` and
``servers_links``, create with quota enforcement, show, delete, start/stop/reboot/resize/
confirmResize/revertResize actions), flavors, ``os-hypervisors``, ``limits``,
``os-simple-tenant-usage`` (2.40 paging) and ``os-quota-sets``. Field names, status codes and fault
bodies follow the Compute API reference and Nova's ``doc/api_samples``; the microversion changes
that matter to a client are honoured (embedded flavor from 2.47, UUID hypervisor ids from 2.53,
hypervisor sizes dropped at 2.88, quota keys dropped at 2.36 and 2.57).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime

from werkzeug.routing import Rule

from devsim.openstack.state import NOVA_DEFAULT_QUOTAS, Flavor, Server, snapshot
from devsim.openstack.wsgi import (
    ApiError,
    Context,
    authenticate,
    empty_response,
    isotime,
    json_response,
    next_link,
    paginate,
    requested_microversion,
)

P = "/compute/v2.1"
#: the largest quota Nova's schema takes (nova.db.constants.MAX_INT)
MAX_INT = 2**31 - 1
PUBLIC = frozenset({"versions", "version_v21"})


def rules() -> list[Rule]:
    return [
        Rule("/compute", endpoint=versions, methods=["GET"]),
        Rule(P, endpoint=version_v21, methods=["GET"]),
        Rule(f"{P}/servers", endpoint=list_servers, methods=["GET"]),
        Rule(f"{P}/servers/detail", endpoint=list_servers_detail, methods=["GET"]),
        Rule(f"{P}/servers", endpoint=create_server, methods=["POST"]),
        Rule(f"{P}/servers/<server_id>", endpoint=show_server, methods=["GET"]),
        Rule(f"{P}/servers/<server_id>", endpoint=delete_server, methods=["DELETE"]),
        Rule(f"{P}/servers/<server_id>/action", endpoint=server_action, methods=["POST"]),
        Rule(f"{P}/flavors", endpoint=list_flavors, methods=["GET"]),
        Rule(f"{P}/flavors/detail", endpoint=list_flavors_detail, methods=["GET"]),
        Rule(f"{P}/flavors/<flavor_id>", endpoint=show_flavor, methods=["GET"]),
        Rule(f"{P}/os-hypervisors", endpoint=list_hypervisors, methods=["GET"]),
        Rule(f"{P}/os-hypervisors/detail", endpoint=list_hypervisors_detail, methods=["GET"]),
        Rule(f"{P}/limits", endpoint=limits, methods=["GET"]),
        Rule(f"{P}/os-simple-tenant-usage", endpoint=usage_index, methods=["GET"]),
        Rule(f"{P}/os-simple-tenant-usage/<tenant_id>", endpoint=usage_show, methods=["GET"]),
        Rule(f"{P}/os-quota-sets/<tenant_id>", endpoint=quota_show, methods=["GET"]),
        Rule(f"{P}/os-quota-sets/<tenant_id>", endpoint=quota_update, methods=["PUT"]),
        Rule(f"{P}/os-quota-sets/<tenant_id>", endpoint=quota_revert, methods=["DELETE"]),
        Rule(f"{P}/os-quota-sets/<tenant_id>/defaults", endpoint=quota_defaults, methods=["GET"]),
        Rule(f"{P}/os-quota-sets/<tenant_id>/detail", endpoint=quota_detail, methods=["GET"]),
    ]


def prepare(ctx: Context, handler) -> None:
    if handler.__name__ in PUBLIC:
        return
    token = authenticate(ctx)
    if not token.project_id:
        raise ApiError(401, "The request you have made requires authentication.")
    ctx.microversion = requested_microversion(ctx, "compute", "X-OpenStack-Nova-API-Version",
                                              ctx.state.compute_min_version, ctx.state.compute_max_version)


# -- versions -------------------------------------------------------------------------------------


def _v21_doc(ctx: Context) -> dict:
    state = ctx.state
    return {
        "id": "v2.1",
        "links": [{"href": f"{ctx.base_url}{P}/", "rel": "self"}],
        "status": "CURRENT",
        "version": ".".join(map(str, state.compute_max_version)),
        "min_version": ".".join(map(str, state.compute_min_version)),
        "updated": "2013-07-23T11:33:21Z",
    }


def versions(ctx: Context):
    v20 = {"id": "v2.0", "links": [{"href": f"{ctx.base_url}/compute/v2/", "rel": "self"}],
           "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z"}
    return json_response({"versions": [v20, _v21_doc(ctx)]})


def version_v21(ctx: Context):
    doc = _v21_doc(ctx)
    doc["links"].append({"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"})
    doc["media-types"] = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]
    return json_response({"version": doc})


# -- servers --------------------------------------------------------------------------------------


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("0", "false", "f", "no", "n", "off")


def _parse_changes_since(raw: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise ApiError(400, f"Invalid input for query parameters changes-since. Value: {raw}. "
                            f"{raw!r} is not a 'date-time'") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _visible_servers(ctx: Context) -> list[Server]:
    args = ctx.request.args
    all_tenants = "all_tenants" in args and _is_true(args.get("all_tenants") or "1")
    if all_tenants:
        ctx.require_admin("os_compute_api:servers:detail:get_all_tenants")
    project_filter = args.get("project_id") or args.get("tenant_id")
    changes_since = args.get("changes-since") or args.get("changes_since")
    since = _parse_changes_since(changes_since) if changes_since else None
    show_deleted = since is not None or (ctx.token.is_admin and _is_true(args.get("deleted")))
    name = args.get("name")
    status = args.get("status")
    selected = []
    for server in ctx.state.servers.values():
        if not all_tenants:
            if server.project_id != ctx.token.project_id:
                continue
        elif project_filter and server.project_id != project_filter:
            continue
        if server.deleted and not show_deleted:
            continue
        if since is not None and server.updated < since:
            continue
        if name and name not in server.name:
            continue
        if status and server.status != status.upper():
            continue
        selected.append(server)
    # Nova's default sort: created_at desc, id desc
    selected.sort(key=lambda s: (s.created, s.id), reverse=True)
    return selected


def _server_page(ctx: Context, detail: bool):
    servers = _visible_servers(ctx)
    page, start, limit = paginate(servers, ctx)
    faults = ctx.state.faults
    page_number = start // limit + 1 if limit else 1
    if detail and faults.revoke_tokens_on_page == page_number:
        faults.revoke_tokens_on_page = None
        ctx.state.revoke_all_tokens()
        raise ApiError(401, "The request you have made requires authentication.",
                       {"WWW-Authenticate": f'Keystone uri="{ctx.base_url}/v3"'})
    if detail and page_number in faults.server_page_errors:
        raise ApiError(500, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ "
                            "and attach the Nova API log if possible.\n<class 'sqlalchemy.exc.OperationalError'>")
    render = _server_detail if detail else _server_summary
    body = {"servers": [render(ctx, s) for s in page]}
    if page and len(page) == limit:
        body["servers_links"] = next_link(ctx, ctx.request.path, page)
    return json_response(body)


def list_servers(ctx: Context):
    return _server_page(ctx, detail=False)


def list_servers_detail(ctx: Context):
    return _server_page(ctx, detail=True)


def _links(ctx: Context, kind: str, item_id: str) -> list[dict]:
    return [
        {"href": f"{ctx.base_url}{P}/{kind}/{item_id}", "rel": "self"},
        {"href": f"{ctx.base_url}/compute/{kind}/{item_id}", "rel": "bookmark"},
    ]


def _server_summary(ctx: Context, server: Server) -> dict:
    return {"id": server.id, "name": server.name, "links": _links(ctx, "servers", server.id)}


def _flavor_ref(ctx: Context, flavor: Flavor) -> dict:
    if ctx.mv_at_least(2, 47):
        return {"vcpus": flavor.vcpus, "ram": flavor.ram, "disk": flavor.disk,
                "ephemeral": flavor.ephemeral, "swap": flavor.swap, "original_name": flavor.name,
                "extra_specs": dict(flavor.extra_specs)}
    return {"id": flavor.id, "links": [{"href": f"{ctx.base_url}/compute/flavors/{flavor.id}", "rel": "bookmark"}]}


def _server_detail(ctx: Context, server: Server) -> dict:
    host_id = hashlib.sha224((server.project_id + (server.host or "")).encode()).hexdigest() \
        if server.host else ""
    attached = [{"id": v.id, "delete_on_termination": False}
                for v in ctx.state.volumes.values() if v.attached_to == server.id and not v.deleted]
    body = {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(server.metadata),
        "hostId": host_id,
        "image": ({"id": server.image_id,
                   "links": [{"href": f"{ctx.base_url}/compute/images/{server.image_id}", "rel": "bookmark"}]}
                  if server.image_id else ""),
        "flavor": _flavor_ref(ctx, server.flavor),
        "created": isotime(server.created),
        "updated": isotime(server.updated),
        "addresses": {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": _links(ctx, "servers", server.id),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": "nova" if server.host else "",
        "config_drive": "",
        "key_name": None,
        "OS-SRV-USG:launched_at": isotime(server.launched_at, micro=True),
        "OS-SRV-USG:terminated_at": isotime(server.terminated_at, micro=True),
        "OS-EXT-SRV-ATTR:host": server.host,
        "OS-EXT-SRV-ATTR:instance_name": "instance-%08x" % (int(uuid.UUID(server.id)) % 0xFFFFFFFF),
        "OS-EXT-SRV-ATTR:hypervisor_hostname": server.hypervisor_hostname,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:power_state": server.power_state,
        "os-extended-volumes:volumes_attached": attached,
        "security_groups": [{"name": "default"}],
    }
    if ctx.mv_at_least(2, 3):
        body.update({"OS-EXT-SRV-ATTR:hostname": server.name, "OS-EXT-SRV-ATTR:reservation_id": "r-" + server.id[:8],
                     "OS-EXT-SRV-ATTR:launch_index": 0, "OS-EXT-SRV-ATTR:kernel_id": "",
                     "OS-EXT-SRV-ATTR:ramdisk_id": "", "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                     "OS-EXT-SRV-ATTR:user_data": None})
    if ctx.mv_at_least(2, 9):
        body["locked"] = False
    if ctx.mv_at_least(2, 19):
        body["description"] = None
    if ctx.mv_at_least(2, 26):
        body["tags"] = []
    if ctx.mv_at_least(2, 63):
        body["trusted_image_certificates"] = None
    if ctx.mv_at_least(2, 73):
        body["locked_reason"] = None
    if ctx.mv_at_least(2, 96):
        body["pinned_availability_zone"] = None
    if server.id in ctx.state.faults.malformed_servers:
        del body["flavor"]
    return body


def _find_server(ctx: Context, server_id: str) -> Server:
    server = ctx.state.servers.get(server_id)
    if server is None or server.deleted or (
            not ctx.token.is_admin and server.project_id != ctx.token.project_id):
        raise ApiError(404, f"Instance {server_id} could not be found.")
    return server


def show_server(ctx: Context, server_id: str):
    return json_response({"server": _server_detail(ctx, _find_server(ctx, server_id))})


def _check_networks(ctx: Context, networks, project_id: str) -> None:
    """As Nova over Neutron: ``none`` boots unconnected; ``auto`` takes the one network the project
    can use (its own or a shared one), is ambiguous (409) with several, and with none asks Neutron to
    auto-allocate, which a cloud without a default external network refuses (Nova's words, seen on
    the real cloud); a network id must be one the project can use."""
    usable = [n for n in ctx.state.networks.values() if n.visible_to(project_id)] if ctx.state.network_service else []
    if networks == "auto":
        if len(usable) > 1:
            raise ApiError(409, "More than one possible network found. Specify network ID(s) to select which "
                                "one(s) to connect to.")
        if not usable:
            raise ApiError(400, f"Unable to automatically allocate a network for project {project_id}")
    if isinstance(networks, list):
        for network in networks:
            wanted = network.get("uuid") if isinstance(network, dict) else None
            if wanted and wanted not in {n.id for n in usable}:
                raise ApiError(400, f"Network {wanted} could not be found.")


_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def _check_image_ref(spec: dict) -> None:
    """Nova's request schema: ``imageRef`` is a UUID or empty (before anything else is looked at)."""
    ref = spec.get("imageRef")
    if ref is not None and ref != "" and not (isinstance(ref, str) and _UUID.match(ref)):
        raise ApiError(400, f"Invalid input for field/attribute imageRef. Value: {ref}. "
                            f"'{ref}' is not valid under any of the given schemas")


def _find_image(ctx: Context, spec: dict, project_id: str) -> str:
    """The image to boot from, looked up in Glance as the requesting project (Nova's words when not)."""
    ref = spec["imageRef"]
    image = ctx.state.images.get(ref) if ctx.state.image_service else None
    if image is None or not image.visible_to(project_id, ctx.token.is_admin):
        raise ApiError(400, "Can not find requested image")
    if image.status != "active":
        raise ApiError(400, f"Image {ref} is not active.")
    return image.id


def create_server(ctx: Context):
    body = ctx.json_body()
    spec = body.get("server")
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field/attribute server. Value: None. None is not of type 'object'")
    for required in ("name", "flavorRef") + (("networks",) if ctx.mv_at_least(2, 37) else ()):
        if required not in spec:
            raise ApiError(400, f"Invalid input for field/attribute server. Value: {spec}. "
                                f"'{required}' is a required property")
    _check_image_ref(spec)
    if not spec.get("imageRef"):  # the simulator has no block_device_mapping_v2 to boot from instead
        raise ApiError(400, "Missing imageRef attribute")
    flavor = ctx.state.find_flavor(str(spec["flavorRef"]))
    if flavor is None:
        raise ApiError(400, f"Flavor {spec['flavorRef']} could not be found.")
    project_id = ctx.token.project_id
    image_id = _find_image(ctx, spec, project_id)
    _check_networks(ctx, spec.get("networks"), project_id)
    over = ctx.state.compute_over_quota(project_id, {"instances": 1, "cores": flavor.vcpus, "ram": flavor.ram})
    if over:
        raise ApiError(403, over)
    hypervisor = _place(ctx, flavor)
    now = ctx.now.replace(microsecond=0)  # Nova stores whole seconds
    server = ctx.state.add_server(
        str(spec["name"]), project_id, flavor,
        host=hypervisor.host if hypervisor else None,
        vm_state="active" if hypervisor else "error",
        launched_at=now if hypervisor else None, created=now,
        image_id=image_id, user_id=ctx.token.user_id,
    )
    server.metadata = dict(spec.get("metadata") or {})
    response = {"server": {"id": server.id, "links": _links(ctx, "servers", server.id),
                           "OS-DCF:diskConfig": "MANUAL", "security_groups": [{"name": "default"}],
                           "adminPass": uuid.uuid4().hex[:12]}}
    return json_response(response, status=202, headers={"Location": f"{ctx.base_url}{P}/servers/{server.id}"})


def _place(ctx: Context, flavor: Flavor):
    """The hypervisor with the most free vCPUs that fits ``flavor`` (None: "No valid host")."""
    best, best_free = None, None
    for hypervisor in ctx.state.hypervisors.values():
        used = [s for s in ctx.state.live_servers() if s.host == hypervisor.host]
        free_vcpus = hypervisor.vcpus * 16 - sum(s.flavor.vcpus for s in used)  # cpu_allocation_ratio 16
        free_ram = int(hypervisor.memory_mb * 1.5) - sum(s.flavor.ram for s in used)
        if free_vcpus >= flavor.vcpus and free_ram >= flavor.ram and (best_free is None or free_vcpus > best_free):
            best, best_free = hypervisor, free_vcpus
    return best


def delete_server(ctx: Context, server_id: str):
    ctx.state.delete_server(_find_server(ctx, server_id))
    return empty_response(204)


def server_action(ctx: Context, server_id: str):
    server = _find_server(ctx, server_id)
    body = ctx.json_body()
    if len(body) != 1:
        raise ApiError(400, f"There is no such action: {', '.join(body)}" if body else "Malformed request body")
    action, args = next(iter(body.items()))
    now = ctx.now

    def conflict():
        return ApiError(409, f"Cannot '{action}' instance {server.id} while it is in vm_state {server.vm_state}")

    if action == "os-start":
        if server.vm_state != "stopped":
            raise conflict()
        server.vm_state = "active"
    elif action == "os-stop":
        if server.vm_state not in ("active", "error", "resized"):
            raise conflict()
        server.vm_state = "stopped"
    elif action == "reboot":
        if server.vm_state not in ("active", "stopped", "error"):
            raise conflict()
        server.vm_state = "active"
    elif action == "resize":
        if server.vm_state not in ("active", "stopped"):
            raise conflict()
        new = ctx.state.find_flavor(str((args or {}).get("flavorRef", "")))
        if new is None:
            raise ApiError(400, f"Flavor {(args or {}).get('flavorRef')} could not be found.")
        if new.id == server.flavor.id:
            raise ApiError(400, "When resizing, instances must change flavor!")
        wanted = {"cores": max(new.vcpus - server.flavor.vcpus, 0), "ram": max(new.ram - server.flavor.ram, 0)}
        over = ctx.state.compute_over_quota(server.project_id, {k: v for k, v in wanted.items() if v})
        if over:
            raise ApiError(403, over)
        server.old_flavor, server.flavor = server.flavor, snapshot(new)
        server.vm_state = "resized"
        server.launched_at = now.replace(microsecond=0)  # Nova's finish_resize resets launched_at
    elif action == "confirmResize":
        if server.vm_state != "resized":
            raise conflict()
        server.vm_state, server.old_flavor = "active", None
        server.updated = now
        return empty_response(204)
    elif action == "revertResize":
        if server.vm_state != "resized":
            raise conflict()
        server.flavor, server.old_flavor = server.old_flavor, None
        server.vm_state = "active"
    else:
        raise ApiError(400, f"There is no such action: {action}")
    server.updated = now
    return empty_response(202)


# -- flavors --------------------------------------------------------------------------------------


def _sorted_flavors(ctx: Context) -> list[Flavor]:
    return sorted(ctx.state.flavors.values(), key=lambda f: f.id)


def _flavor_body(ctx: Context, flavor: Flavor, detail: bool) -> dict:
    body = {"id": flavor.id, "name": flavor.name, "links": _links(ctx, "flavors", flavor.id)}
    if ctx.mv_at_least(2, 55):
        body["description"] = flavor.description
    if detail:
        body.update({
            "ram": flavor.ram, "vcpus": flavor.vcpus, "disk": flavor.disk,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral, "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": flavor.is_public, "rxtx_factor": 1.0,
            "swap": flavor.swap if (flavor.swap or ctx.mv_at_least(2, 75)) else "",
        })
        if ctx.mv_at_least(2, 61):
            body["extra_specs"] = dict(flavor.extra_specs)
    return body


def _flavor_page(ctx: Context, detail: bool):
    page, _, limit = paginate(_sorted_flavors(ctx), ctx)
    body = {"flavors": [_flavor_body(ctx, f, detail) for f in page]}
    if page and len(page) == limit:
        body["flavors_links"] = next_link(ctx, ctx.request.path, page)
    return json_response(body)


def list_flavors(ctx: Context):
    return _flavor_page(ctx, detail=False)


def list_flavors_detail(ctx: Context):
    return _flavor_page(ctx, detail=True)


def show_flavor(ctx: Context, flavor_id: str):
    flavor = ctx.state.flavors.get(flavor_id)
    if flavor is None:
        raise ApiError(404, f"Flavor {flavor_id} could not be found.")
    return json_response({"flavor": _flavor_body(ctx, flavor, detail=True)})


# -- hypervisors ----------------------------------------------------------------------------------


def _hypervisor_page(ctx: Context, detail: bool):
    ctx.require_admin("os_compute_api:os-hypervisors:list-detail" if detail else "os_compute_api:os-hypervisors:list")
    hypervisors = sorted(ctx.state.hypervisors.values(), key=lambda h: h.hostname)
    numbered = {h.id: index + 1 for index, h in enumerate(hypervisors)}
    uuid_ids = ctx.mv_at_least(2, 53)

    def public_id(h):
        return h.id if uuid_ids else numbered[h.id]

    if ctx.mv_at_least(2, 33):
        page, _, limit = paginate(hypervisors, ctx, key=public_id)
    else:
        page, limit = hypervisors, 0
    rows = []
    for h in page:
        row = {"id": public_id(h), "hypervisor_hostname": h.hostname, "state": h.state, "status": h.status}
        if detail:
            servers = [s for s in ctx.state.live_servers() if s.host == h.host]
            row.update({"hypervisor_type": h.hypervisor_type, "hypervisor_version": h.hypervisor_version,
                        "host_ip": h.host_ip,
                        "service": {"host": h.host, "id": h.service_id if uuid_ids else numbered[h.id],
                                    "disabled_reason": None}})
            if ctx.mv_at_least(2, 88):
                row["uptime"] = " 10:00:00 up 42 days,  1:00,  0 users,  load average: 0.10, 0.20, 0.30"
            else:
                vcpus_used = sum(s.flavor.vcpus for s in servers)
                ram_used = 512 + sum(s.flavor.ram for s in servers)
                disk_used = sum(s.flavor.disk + s.flavor.ephemeral for s in servers)
                cpu_info = {"arch": "x86_64", "model": "Skylake-Server-IBRS", "vendor": "Intel",
                            "features": ["pge", "clflush"],
                            "topology": {"cores": 16, "threads": 2, "sockets": 2}}
                row.update({
                    "vcpus": h.vcpus, "memory_mb": h.memory_mb, "local_gb": h.local_gb,
                    "vcpus_used": vcpus_used, "memory_mb_used": ram_used, "local_gb_used": disk_used,
                    "free_ram_mb": h.memory_mb - ram_used, "free_disk_gb": h.local_gb - disk_used,
                    "disk_available_least": h.local_gb - disk_used, "current_workload": 0,
                    "running_vms": len(servers),
                    "cpu_info": cpu_info if ctx.mv_at_least(2, 28) else str(cpu_info).replace("'", '"'),
                })
        rows.append(row)
    body = {"hypervisors": rows}
    if limit and page and len(page) == limit:
        body["hypervisors_links"] = next_link(ctx, ctx.request.path, page, key=public_id)
    return json_response(body)


def list_hypervisors(ctx: Context):
    return _hypervisor_page(ctx, detail=False)


def list_hypervisors_detail(ctx: Context):
    return _hypervisor_page(ctx, detail=True)


# -- limits ---------------------------------------------------------------------------------------


def _target_project(ctx: Context, tenant_id: str | None, policy: str) -> str:
    if tenant_id and tenant_id != ctx.token.project_id:
        ctx.require_admin(policy)
        return tenant_id
    return ctx.token.project_id


def limits(ctx: Context):
    project_id = _target_project(ctx, ctx.request.args.get("tenant_id"), "os_compute_api:limits:other_project")
    quota, used = ctx.state.compute_quota(project_id), ctx.state.compute_in_use(project_id)
    absolute = {
        "maxServerMeta": quota["metadata_items"],
        "maxTotalInstances": quota["instances"],
        "maxTotalCores": quota["cores"],
        "maxTotalRAMSize": quota["ram"],
        "maxTotalKeypairs": quota["key_pairs"],
        "maxServerGroups": quota["server_groups"],
        "maxServerGroupMembers": quota["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": 0,
    }
    if not ctx.mv_at_least(2, 57):
        absolute.update({"maxImageMeta": quota["metadata_items"], "maxPersonality": quota["injected_files"],
                         "maxPersonalitySize": quota["injected_file_content_bytes"]})
    if not ctx.mv_at_least(2, 36):
        absolute.update({"maxSecurityGroups": 10, "maxSecurityGroupRules": 20, "maxTotalFloatingIps": 10,
                         "totalFloatingIpsUsed": 0, "totalSecurityGroupsUsed": 1})
    return json_response({"limits": {"rate": [], "absolute": absolute}})


# -- os-simple-tenant-usage -----------------------------------------------------------------------

USAGE_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def _parse_usage_time(ctx: Context, raw: str | None) -> datetime:
    if not raw:
        return ctx.now
    for fmt in USAGE_TIME_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ApiError(400, "Invalid input received: Datetime is in invalid format")


def _usage_window(ctx: Context) -> tuple[datetime, datetime]:
    start = _parse_usage_time(ctx, ctx.request.args.get("start"))
    stop = _parse_usage_time(ctx, ctx.request.args.get("end"))
    if not start < stop:
        raise ApiError(400, "Invalid start time. The start time cannot occur after the end time.")
    return start, stop


def _usage_summaries(ctx: Context, start, stop, project_id, detailed: bool):
    lines = ctx.state.usage(start, stop, project_id)
    if ctx.mv_at_least(2, 40):
        page, _, limit = paginate(lines, ctx, key=lambda line: line.server.id)
    else:
        page, limit = lines, 0
    now = ctx.now
    summaries: dict[str, dict] = {}
    for line in page:
        server = line.server
        flavor = server.flavor
        ended = server.terminated_at
        uptime_delta = (ended or now) - server.launched_at
        info = {
            "hours": line.hours,
            "flavor": flavor.name,
            "instance_id": server.id,
            "name": server.name,
            "memory_mb": flavor.ram,
            "local_gb": flavor.disk + flavor.ephemeral,
            "vcpus": flavor.vcpus,
            "tenant_id": server.project_id,
            "started_at": isotime(server.launched_at, micro=True),
            "ended_at": isotime(ended, micro=True),
            "state": "terminated" if ended else server.vm_state,
            "uptime": uptime_delta.days * 86400 + uptime_delta.seconds,
        }
        summary = summaries.setdefault(server.project_id, {
            "tenant_id": server.project_id,
            **({"server_usages": []} if detailed else {}),
            "total_local_gb_usage": 0,
            "total_vcpus_usage": 0,
            "total_memory_mb_usage": 0,
            "total_hours": 0,
            "start": isotime(start, micro=True),
            "stop": isotime(min(stop, now), micro=True),
        })
        summary["total_local_gb_usage"] += info["local_gb"] * info["hours"]
        summary["total_vcpus_usage"] += info["vcpus"] * info["hours"]
        summary["total_memory_mb_usage"] += info["memory_mb"] * info["hours"]
        summary["total_hours"] += info["hours"]
        if detailed:
            summary["server_usages"].append(info)
    links = None
    if limit and page and len(page) == limit:
        links = next_link(ctx, ctx.request.path, page, key=lambda line: line.server.id)
    return list(summaries.values()), links


def usage_index(ctx: Context):
    ctx.require_admin("os_compute_api:os-simple-tenant-usage:list")
    start, stop = _usage_window(ctx)
    detailed = ctx.request.args.get("detailed", "0") == "1"
    summaries, links = _usage_summaries(ctx, start, stop, None, detailed)
    body = {"tenant_usages": summaries}
    if links:
        body["tenant_usages_links"] = links
    return json_response(body)


def usage_show(ctx: Context, tenant_id: str):
    _target_project(ctx, tenant_id, "os_compute_api:os-simple-tenant-usage:show")
    start, stop = _usage_window(ctx)
    summaries, links = _usage_summaries(ctx, start, stop, tenant_id, True)
    body = {"tenant_usage": summaries[0] if summaries else {}}
    if links:
        body["tenant_usage_links"] = links
    return json_response(body)


# -- os-quota-sets --------------------------------------------------------------------------------


def _quota_keys(ctx: Context) -> list[str]:
    keys = ["cores", "instances", "ram", "key_pairs", "metadata_items", "server_groups", "server_group_members"]
    if not ctx.mv_at_least(2, 57):
        keys += ["injected_files", "injected_file_content_bytes", "injected_file_path_bytes"]
    if not ctx.mv_at_least(2, 36):
        keys += ["fixed_ips", "floating_ips", "security_groups", "security_group_rules"]
    return keys


_LEGACY_NETWORK_QUOTAS = {"fixed_ips": -1, "floating_ips": 10, "security_groups": 10, "security_group_rules": 20}


def _quota_values(ctx: Context, tenant_id: str, defaults: bool = False) -> dict:
    quota = dict(NOVA_DEFAULT_QUOTAS) if defaults else ctx.state.compute_quota(tenant_id)
    quota.update(_LEGACY_NETWORK_QUOTAS)
    return {k: quota[k] for k in _quota_keys(ctx)}


def quota_show(ctx: Context, tenant_id: str):
    _target_project(ctx, tenant_id, "os_compute_api:os-quota-sets:show")
    return json_response({"quota_set": {"id": tenant_id, **_quota_values(ctx, tenant_id)}})


def quota_defaults(ctx: Context, tenant_id: str):
    return json_response({"quota_set": {"id": tenant_id, **_quota_values(ctx, tenant_id, defaults=True)}})


def quota_detail(ctx: Context, tenant_id: str):
    _target_project(ctx, tenant_id, "os_compute_api:os-quota-sets:detail")
    used = ctx.state.compute_in_use(tenant_id)
    detail = {k: {"in_use": used.get(k, 0), "limit": v, "reserved": 0}
              for k, v in _quota_values(ctx, tenant_id).items()}
    return json_response({"quota_set": {"id": tenant_id, **detail}})


def quota_update(ctx: Context, tenant_id: str):
    ctx.require_admin("os_compute_api:os-quota-sets:update")
    spec = ctx.json_body().get("quota_set")
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field/attribute quota_set. Value: None. None is not of type 'object'")
    force = _is_true(str(spec.pop("force", "false")))
    allowed = set(_quota_keys(ctx))
    changes = {}
    for key, raw in spec.items():
        if key not in allowed:
            raise ApiError(400, f"Invalid input for field/attribute quota_set. Value: {spec}. "
                                f"Additional properties are not allowed ('{key}' was unexpected)")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, f"Invalid input for field/attribute {key}. Value: {raw}. "
                                f"'{raw}' is not of type 'integer', 'string'") from None
        if value < -1:
            raise ApiError(400, f"Invalid input for field/attribute {key}. Value: {raw}. "
                                f"{value} is less than the minimum of -1")
        if value > MAX_INT:
            raise ApiError(400, f"Invalid input for field/attribute {key}. Value: {raw}. "
                                f"{value} is greater than the maximum of {MAX_INT}")
        changes[key] = value
    used = ctx.state.compute_in_use(tenant_id)
    if not force:
        for key, value in changes.items():
            if value != -1 and used.get(key, 0) > value:
                raise ApiError(400, f"Quota limit {value} for {key} must be greater than or equal to "
                                    f"already used and reserved {used[key]}.")
    ctx.state.compute_quotas.setdefault(tenant_id, {}).update(changes)
    return json_response({"quota_set": _quota_values(ctx, tenant_id)})


def quota_revert(ctx: Context, tenant_id: str):
    ctx.require_admin("os_compute_api:os-quota-sets:delete")
    ctx.state.compute_quotas.pop(tenant_id, None)
    return empty_response(202)
