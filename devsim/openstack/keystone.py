"""Simulated Keystone v3: version discovery, tokens (password and application credential), projects.

Follows the Identity API v3 reference: ``POST /v3/auth/tokens`` answers 201 with the token id in
``X-Subject-Token`` and a body holding ``expires_at``, ``roles``, ``project`` and a ``catalog``
whose identity, compute, volumev3, image and network endpoints (public, internal and admin, region ``RegionOne``)
all point back at this simulator. Tokens expire on the simulator clock.
"""

from __future__ import annotations

from werkzeug.routing import Rule

from devsim.openstack.state import (
    DEFAULT_DOMAIN_ID,
    DEFAULT_DOMAIN_NAME,
    Project,
    Token,
    stable_id,
)
from devsim.openstack.wsgi import (
    UNAUTHENTICATED,
    ApiError,
    Context,
    authenticate,
    empty_response,
    json_response,
)

V3_UPDATED = "2024-04-01T00:00:00Z"
PUBLIC = frozenset({"root_versions", "version", "issue_token"})


def rules() -> list[Rule]:
    return [
        Rule("/", endpoint=root_versions, methods=["GET"]),
        Rule("/v3", endpoint=version, methods=["GET"]),
        Rule("/v3/auth/tokens", endpoint=issue_token, methods=["POST"]),
        Rule("/v3/auth/tokens", endpoint=validate_token, methods=["GET", "HEAD"]),
        Rule("/v3/auth/tokens", endpoint=revoke_token, methods=["DELETE"]),
        Rule("/v3/projects", endpoint=list_projects, methods=["GET"]),
        Rule("/v3/projects/<project_id>", endpoint=show_project, methods=["GET"]),
    ]


def prepare(ctx: Context, handler) -> None:
    if handler.__name__ not in PUBLIC:
        authenticate(ctx)


def _version_doc(ctx: Context) -> dict:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": V3_UPDATED,
        "links": [{"rel": "self", "href": f"{ctx.base_url}/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


def root_versions(ctx: Context):
    return json_response({"versions": {"values": [_version_doc(ctx)]}}, status=300)


def version(ctx: Context):
    return json_response({"version": _version_doc(ctx)})


# -- tokens ---------------------------------------------------------------------------------------


def issue_token(ctx: Context):
    state = ctx.state
    auth = ctx.json_body().get("auth")
    if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
        raise ApiError(400, "Expecting to find identity in auth. The server could not comply with the "
                            "request since it is either malformed or otherwise incorrect. The client is "
                            "assumed to be in error.")
    identity = auth["identity"]
    methods = identity.get("methods") or []
    if "password" in methods:
        user = _password_user(ctx, identity.get("password") or {})
        project = _scope_project(ctx, auth.get("scope"))
        app_credential_id = None
    elif "application_credential" in methods:
        credential = identity.get("application_credential") or {}
        found = state.app_credentials.get(credential.get("id", ""))
        if found is None or found.secret != credential.get("secret"):
            raise ApiError(401, UNAUTHENTICATED)
        if auth.get("scope"):
            raise ApiError(401, "Application credentials cannot request a scope.")
        user = state.users[found.user_id]
        project = state.projects[found.project_id]
        app_credential_id = found.id
    else:
        raise ApiError(401, f"Attempted to authenticate with an unsupported method: {methods}")
    if project is not None and not user.roles.get(project.id):
        raise ApiError(401, UNAUTHENTICATED)
    token = state.issue_token(user, project, methods, app_credential_id) if project else \
        _unscoped(ctx, user, methods)
    return json_response({"token": token_body(ctx, token)}, status=201,
                         headers={"X-Subject-Token": token.id})


def _unscoped(ctx: Context, user, methods) -> Token:
    placeholder = Project(id="", name="")
    return ctx.state.issue_token(user, placeholder, methods)


def _password_user(ctx: Context, password: dict):
    spec = password.get("user") or {}
    state = ctx.state
    if spec.get("id"):
        user = state.users.get(spec["id"])
    else:
        user = state.user_named(spec.get("name", ""), _domain_id(spec.get("domain")))
    if user is None or user.password != spec.get("password"):
        raise ApiError(401, UNAUTHENTICATED)
    return user


def _scope_project(ctx: Context, scope) -> Project | None:
    if not scope:
        return None
    spec = scope.get("project") if isinstance(scope, dict) else None
    if not isinstance(spec, dict):
        raise ApiError(401, UNAUTHENTICATED)
    if spec.get("id"):
        project = ctx.state.projects.get(spec["id"])
    else:
        project = ctx.state.project_named(spec.get("name", ""), _domain_id(spec.get("domain")))
    if project is None or not project.enabled:
        raise ApiError(401, UNAUTHENTICATED)
    return project


def _domain_id(domain) -> str:
    if not isinstance(domain, dict):
        return DEFAULT_DOMAIN_ID
    if domain.get("id"):
        return domain["id"]
    return DEFAULT_DOMAIN_ID if domain.get("name", DEFAULT_DOMAIN_NAME) == DEFAULT_DOMAIN_NAME else "?"


def token_body(ctx: Context, token: Token) -> dict:
    state = ctx.state
    user = state.users[token.user_id]
    domain = {"id": DEFAULT_DOMAIN_ID, "name": DEFAULT_DOMAIN_NAME}
    body = {
        "methods": token.methods,
        "user": {"domain": domain, "id": user.id, "name": user.name, "password_expires_at": None},
        "audit_ids": [token.audit_id],
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "issued_at": token.issued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if token.project_id:
        project = state.projects[token.project_id]
        body.update({
            "project": {"domain": domain, "id": project.id, "name": project.name},
            "is_domain": False,
            "roles": [{"id": _role_id(name), "name": name} for name in token.roles],
            "catalog": catalog(ctx, project.id),
        })
    if token.app_credential_id:
        credential = state.app_credentials[token.app_credential_id]
        body["application_credential"] = {"id": credential.id, "name": credential.name, "restricted": True}
    return body


def _role_id(name: str) -> str:
    return stable_id("role", name).replace("-", "")


def catalog(ctx: Context, project_id: str) -> list[dict]:
    region = ctx.state.region
    services = [
        ("identity", "keystone", f"{ctx.base_url}/v3"),
        ("compute", "nova", f"{ctx.base_url}/compute/v2.1"),
    ]
    if ctx.state.volume_service:
        services.append(("volumev3", "cinderv3", f"{ctx.base_url}/volume/v3/{project_id}"))
    if ctx.state.image_service:
        services.append(("image", "glance", f"{ctx.base_url}/image"))
    if ctx.state.network_service:
        services.append(("network", "neutron", f"{ctx.base_url}/network"))
    entries = []
    for service_type, name, url in services:
        endpoints = [
            {"id": _role_id(f"{name}-{interface}")[:32], "interface": interface, "region": region,
             "region_id": region, "url": url}
            for interface in ("public", "internal", "admin")
        ]
        entries.append({"endpoints": endpoints, "id": _role_id(f"service-{name}")[:32],
                        "type": service_type, "name": name})
    return entries


def validate_token(ctx: Context):
    subject = ctx.state.valid_token(ctx.request.headers.get("X-Subject-Token"))
    if subject is None:
        raise ApiError(404, f"Could not find token: {ctx.request.headers.get('X-Subject-Token')}.")
    return json_response({"token": token_body(ctx, subject)}, headers={"X-Subject-Token": subject.id})


def revoke_token(ctx: Context):
    subject = ctx.request.headers.get("X-Subject-Token", "")
    if ctx.state.tokens.pop(subject, None) is None:
        raise ApiError(404, f"Could not find token: {subject}.")
    return empty_response(204)


# -- projects -------------------------------------------------------------------------------------


def _project_body(ctx: Context, project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "domain_id": project.domain_id,
        "enabled": project.enabled,
        "is_domain": False,
        "parent_id": project.domain_id,
        "tags": [],
        "options": {},
        "links": {"self": f"{ctx.base_url}/v3/projects/{project.id}"},
    }


def list_projects(ctx: Context):
    if not ctx.token.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action: identity:list_projects.")
    name = ctx.request.args.get("name")
    projects = [p for p in sorted(ctx.state.projects.values(), key=lambda p: p.name)
                if name is None or p.name == name]
    return json_response({
        "projects": [_project_body(ctx, p) for p in projects],
        "links": {"next": None, "previous": None, "self": f"{ctx.base_url}/v3/projects"},
    })


def show_project(ctx: Context, project_id: str):
    project = ctx.state.projects.get(project_id)
    if project is not None and not ctx.token.is_admin and ctx.token.project_id != project_id:
        raise ApiError(403, "You are not authorized to perform the requested action: identity:get_project.")
    if project is None:
        raise ApiError(404, f"Could not find project: {project_id}.")
    return json_response({"project": _project_body(ctx, project)})
