"""Simulated Cinder (Block Storage API v3, microversions 3.0 - 3.71).

Served under ``/volume``: version discovery, volumes (list and ``detail`` paged with ``limit``/
``marker`` and ``volumes_links``, ``all_tenants``, create with quota enforcement (413 overLimit),
show, delete), ``os-quota-sets`` (show with ``usage``, update, defaults) and ``limits``. The
catalog URL carries the project id (``/volume/v3/{project_id}``), as Cinder's does.
"""

from __future__ import annotations

import uuid

from werkzeug.routing import Rule

from devsim.openstack.state import CINDER_DEFAULT_QUOTAS, Volume
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

V = "/volume/v3/<project_id>"
PUBLIC = frozenset({"versions", "version_v3"})


def rules() -> list[Rule]:
    return [
        Rule("/volume", endpoint=versions, methods=["GET"]),
        Rule("/volume/v3", endpoint=version_v3, methods=["GET"]),
        Rule(f"{V}/volumes", endpoint=list_volumes, methods=["GET"]),
        Rule(f"{V}/volumes/detail", endpoint=list_volumes_detail, methods=["GET"]),
        Rule(f"{V}/volumes", endpoint=create_volume, methods=["POST"]),
        Rule(f"{V}/volumes/<volume_id>", endpoint=show_volume, methods=["GET"]),
        Rule(f"{V}/volumes/<volume_id>", endpoint=delete_volume, methods=["DELETE"]),
        Rule(f"{V}/os-quota-sets/<target_id>", endpoint=quota_show, methods=["GET"]),
        Rule(f"{V}/os-quota-sets/<target_id>", endpoint=quota_update, methods=["PUT"]),
        Rule(f"{V}/os-quota-sets/<target_id>/defaults", endpoint=quota_defaults, methods=["GET"]),
        Rule(f"{V}/limits", endpoint=limits, methods=["GET"]),
    ]


def prepare(ctx: Context, handler) -> None:
    if handler.__name__ in PUBLIC:
        return
    token = authenticate(ctx)
    if not token.project_id:
        raise ApiError(401, "The request you have made requires authentication.")
    ctx.microversion = requested_microversion(ctx, "volume", None, (3, 0), ctx.state.volume_max_version)


def _v3_doc(ctx: Context) -> dict:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": ".".join(map(str, ctx.state.volume_max_version)),
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                  {"rel": "self", "href": f"{ctx.base_url}/volume/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    }


def versions(ctx: Context):
    return json_response({"versions": [_v3_doc(ctx)]}, status=300)


def version_v3(ctx: Context):
    return json_response({"versions": [_v3_doc(ctx)]})


def _check_project(ctx: Context, project_id: str) -> None:
    if project_id != ctx.token.project_id and not ctx.token.is_admin:
        raise ApiError(403, "Policy doesn't allow volume:get_all to be performed.")


# -- volumes --------------------------------------------------------------------------------------


def _volume_body(ctx: Context, volume: Volume, project_id: str, detail: bool) -> dict:
    links = [{"href": f"{ctx.base_url}/volume/v3/{project_id}/volumes/{volume.id}", "rel": "self"},
             {"href": f"{ctx.base_url}/volume/{project_id}/volumes/{volume.id}", "rel": "bookmark"}]
    body = {"id": volume.id, "name": volume.name, "links": links}
    if not detail:
        return body
    server = ctx.state.servers.get(volume.attached_to or "")
    attachments = []
    if server is not None:
        attachments.append({"server_id": server.id, "attachment_id": volume.id[::-1], "attached_at":
                            isotime(volume.updated_at, micro=True), "host_name": server.host,
                            "volume_id": volume.id, "device": "/dev/vdb", "id": volume.id})
    body.update({
        "status": volume.status,
        "size": volume.size,
        "availability_zone": "nova",
        "created_at": isotime(volume.created_at, micro=True),
        "updated_at": isotime(volume.updated_at, micro=True),
        "attachments": attachments,
        "bootable": "true" if volume.bootable else "false",
        "encrypted": False,
        "description": volume.description,
        "volume_type": volume.volume_type,
        "metadata": {},
        "user_id": volume.user_id,
        "multiattach": False,
        "snapshot_id": None,
        "source_volid": None,
        "replication_status": None,
        "consistencygroup_id": None,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        "os-vol-mig-status-attr:migstat": None,
        "os-vol-mig-status-attr:name_id": None,
    })
    if ctx.token.is_admin:
        body["os-vol-host-attr:host"] = "cinder-volume@lvmdriver-1#lvmdriver-1"
    if ctx.microversion >= (3, 13):
        body["group_id"] = None
    if ctx.microversion >= (3, 21):
        body["provider_id"] = None
    if ctx.microversion >= (3, 48):
        body["shared_targets"] = False
        body["service_uuid"] = "5e7e9f43-9b1a-4c57-9a0b-2f7b7b1c0e11"
    if ctx.microversion >= (3, 63):
        body["volume_type_id"] = "b0e1f5c4-7b75-4d5b-9b9e-8d6e2c0a7c11"
    if ctx.microversion >= (3, 65):
        body["consumes_quota"] = True
    return body


def _volume_page(ctx: Context, project_id: str, detail: bool):
    _check_project(ctx, project_id)
    args = ctx.request.args
    all_tenants = ctx.token.is_admin and "all_tenants" in args and args.get("all_tenants", "1") not in ("0", "false", "False")
    wanted_project = args.get("project_id") if ctx.token.is_admin else None
    volumes = [v for v in ctx.state.live_volumes()
               if (all_tenants and (not wanted_project or v.project_id == wanted_project))
               or (not all_tenants and v.project_id == project_id)]
    volumes.sort(key=lambda v: (v.created_at, v.id), reverse=True)
    page, _, limit = paginate(volumes, ctx)
    body = {"volumes": [_volume_body(ctx, v, project_id, detail) for v in page]}
    if page and len(page) == limit:
        body["volumes_links"] = next_link(ctx, ctx.request.path, page)
    return json_response(body)


def list_volumes(ctx: Context, project_id: str):
    return _volume_page(ctx, project_id, detail=False)


def list_volumes_detail(ctx: Context, project_id: str):
    return _volume_page(ctx, project_id, detail=True)


def _find_volume(ctx: Context, volume_id: str) -> Volume:
    volume = ctx.state.volumes.get(volume_id)
    if volume is None or volume.deleted or (
            not ctx.token.is_admin and volume.project_id != ctx.token.project_id):
        raise ApiError(404, f"Volume {volume_id} could not be found.")
    return volume


def show_volume(ctx: Context, project_id: str, volume_id: str):
    return json_response({"volume": _volume_body(ctx, _find_volume(ctx, volume_id), project_id, True)})


def create_volume(ctx: Context, project_id: str):
    _check_project(ctx, project_id)
    spec = ctx.json_body().get("volume")
    if not isinstance(spec, dict) or "size" not in spec:
        raise ApiError(400, "Invalid input for field/attribute volume. 'size' is a required property")
    try:
        size = int(spec["size"])
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid input for field/attribute size. Value: {spec['size']}.") from None
    if size < 1:
        raise ApiError(400, f"Invalid input for field/attribute size. Value: {size}. {size} is less than the minimum of 1")
    state = ctx.state
    quota, used = state.volume_quota(project_id), state.volume_in_use(project_id)
    if quota["volumes"] >= 0 and used["volumes"] + 1 > quota["volumes"]:
        raise ApiError(413, f"VolumeLimitExceeded: Maximum number of volumes allowed ({quota['volumes']}) "
                            f"exceeded for quota 'volumes'.", {"Retry-After": "0"})
    if quota["gigabytes"] >= 0 and used["gigabytes"] + size > quota["gigabytes"]:
        raise ApiError(413, f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                            f"gigabytes quota. Requested {size}G, quota is {quota['gigabytes']}G and "
                            f"{used['gigabytes']}G has been consumed.", {"Retry-After": "0"})
    volume = state.add_volume(str(spec.get("name") or ""), project_id, size, volume_id=str(uuid.uuid4()))
    volume.user_id = ctx.token.user_id
    volume.description = spec.get("description")
    body = _volume_body(ctx, volume, project_id, True)
    body["status"] = "creating"  # the simulator finishes creation at once; the answer says what Cinder says
    return json_response({"volume": body}, status=202)


def delete_volume(ctx: Context, project_id: str, volume_id: str):
    volume = _find_volume(ctx, volume_id)
    if volume.attached_to:
        raise ApiError(400, "Invalid volume: Volume status must be available or error or error_restoring or "
                            "error_extending or error_managing and must not be migrating, attached, belong to "
                            "a group, have snapshots, awaiting a transfer, or be disassociated from snapshots "
                            "after volume transfer.")
    volume.deleted = True
    volume.status = "deleted"
    volume.updated_at = ctx.now
    return empty_response(202)


# -- quotas and limits ----------------------------------------------------------------------------


def quota_show(ctx: Context, project_id: str, target_id: str):
    if target_id != ctx.token.project_id and not ctx.token.is_admin:
        raise ApiError(403, "Policy doesn't allow volume_extension:quotas:show to be performed.")
    quota = ctx.state.volume_quota(target_id)
    if ctx.request.args.get("usage", "false").lower() in ("true", "1"):
        used = ctx.state.volume_in_use(target_id)
        quota = {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0, "allocated": 0} for k, v in quota.items()}
    return json_response({"quota_set": {"id": target_id, **quota}})


def quota_defaults(ctx: Context, project_id: str, target_id: str):
    return json_response({"quota_set": {"id": target_id, **CINDER_DEFAULT_QUOTAS}})


def quota_update(ctx: Context, project_id: str, target_id: str):
    if not ctx.token.is_admin:
        raise ApiError(403, "Policy doesn't allow volume_extension:quotas:update to be performed.")
    spec = ctx.json_body().get("quota_set")
    if not isinstance(spec, dict):
        raise ApiError(400, "Missing required element 'quota_set' in request body.")
    # Cinder checks new limits against usage only when asked to (skip_validation defaults to true)
    validate = str(spec.pop("skip_validation", "true")).lower() in ("false", "0", "no")
    changes = {}
    for key, raw in spec.items():
        if key not in CINDER_DEFAULT_QUOTAS:
            raise ApiError(400, f"Bad key(s) in quota set: {key}")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, f"Invalid input received: {key} must be an integer.") from None
        if value < -1:
            raise ApiError(400, f"Invalid input received: {key} must be >= -1.")
        changes[key] = value
    used = ctx.state.volume_in_use(target_id)
    for key, value in changes.items():
        if validate and value != -1 and used.get(key, 0) > value:
            raise ApiError(400, f"Invalid input received: Quota limit invalid for project '{target_id}' for "
                                f"resource '{key}': limit of {value} must be greater than or equal to already "
                                f"used and reserved {used[key]}.")
    ctx.state.volume_quotas.setdefault(target_id, {}).update(changes)
    return json_response({"quota_set": ctx.state.volume_quota(target_id)})


def limits(ctx: Context, project_id: str):
    target = ctx.request.args.get("project_id") if ctx.microversion >= (3, 39) else None
    if target and target != ctx.token.project_id and not ctx.token.is_admin:
        raise ApiError(403, "Policy doesn't allow limits_extension:used_limits to be performed.")
    target = target or project_id
    quota, used = ctx.state.volume_quota(target), ctx.state.volume_in_use(target)
    absolute = {
        "maxTotalVolumes": quota["volumes"],
        "maxTotalSnapshots": quota["snapshots"],
        "maxTotalVolumeGigabytes": quota["gigabytes"],
        "maxTotalBackups": quota["backups"],
        "maxTotalBackupGigabytes": quota["backup_gigabytes"],
        "totalVolumesUsed": used["volumes"],
        "totalGigabytesUsed": used["gigabytes"],
        "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return json_response({"limits": {"rate": [], "absolute": absolute}})
