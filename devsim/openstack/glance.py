"""Simulated Glance (Image API v2), read-only: what Nova and Glasspane's driver ask of it.

Served under ``/image``: version discovery (300 with the v2.x list, as the real Glance 33 answers),
``GET /v2/images`` (``name``, ``status``, ``visibility`` filters, ``limit``/``marker`` with a
``next`` link; ``first`` and ``schema`` as the real one), ``GET /v2/images/{id}``. As the real
Glance, a missing image and a missing token are plain-text/HTML errors, not JSON fault bodies.
Images a project may not see (private to another project) are absent for it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from devsim.openstack.state import Image
from devsim.openstack.wsgi import ApiError, Context, authenticate, isotime, json_response, paginate

PUBLIC = frozenset({"versions"})
VERSIONS = ["2.17", "2.16", "2.15", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5", "2.4", "2.3",
            "2.2", "2.1", "2.0"]


def rules() -> list[Rule]:
    return [
        Rule("/image", endpoint=versions, methods=["GET"]),
        Rule("/image/versions", endpoint=versions, methods=["GET"]),
        Rule("/image/v2/images", endpoint=list_images, methods=["GET"]),
        Rule("/image/v2/images/<image_id>", endpoint=show_image, methods=["GET"]),
    ]


def prepare(ctx: Context, handler) -> None:
    if handler.__name__ not in PUBLIC:
        authenticate(ctx)


def html_error(status: int, title: str, message: str) -> Response:
    """Glance's own error page (webob), which is what a client gets for 401 and 404."""
    body = f"<html>\n <head>\n  <title>{status} {title}</title>\n </head>\n <body>\n  <h1>{status} {title}</h1>\n" \
           f"  {message}<br /><br />\n\n\n\n </body>\n</html>"
    return Response(body, status=status, content_type="text/html; charset=UTF-8")


def versions(ctx: Context):
    entries = [{"id": f"v{v}", "status": "CURRENT" if i == 0 else "SUPPORTED",
                "links": [{"rel": "self", "href": f"{ctx.base_url}/image/v2/"}]} for i, v in enumerate(VERSIONS)]
    return json_response({"versions": entries}, status=300)


def _body(image: Image) -> dict:
    return {
        "name": image.name, "disk_format": image.disk_format, "container_format": image.container_format,
        "visibility": image.visibility, "size": image.size, "virtual_size": image.size, "status": image.status,
        "checksum": None, "protected": False, "min_ram": image.min_ram, "min_disk": image.min_disk,
        "owner": image.owner, "os_hidden": False, "id": image.id, "created_at": isotime(image.created_at),
        "updated_at": isotime(image.created_at), "tags": [], "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file", "schema": "/v2/schemas/image",
    }


def visible(ctx: Context, image: Image | None) -> bool:
    return image is not None and image.visible_to(ctx.token.project_id, ctx.token.is_admin)


def list_images(ctx: Context):
    args = ctx.request.args
    images = sorted((i for i in ctx.state.images.values() if visible(ctx, i)),
                    key=lambda i: (i.created_at, i.id), reverse=True)  # Glance: newest first
    for name in ("name", "status", "visibility"):
        if args.get(name):
            images = [i for i in images if getattr(i, name) == args[name]]
    page, _, limit = paginate(images, ctx)
    query = urlencode(sorted(args.items()))
    body = {"images": [_body(i) for i in page], "first": "/v2/images" + (f"?{query}" if query else ""),
            "schema": "/v2/schemas/images"}
    if page and len(page) == limit:
        following = {k: v for k, v in args.items() if k != "marker"} | {"marker": page[-1].id}
        body["next"] = "/v2/images?" + urlencode(sorted(following.items()))
    return json_response(body)


def show_image(ctx: Context, image_id: str):
    image = ctx.state.images.get(image_id)
    if not visible(ctx, image):
        raise ApiError(404, f"No image found with ID {image_id}")
    return json_response(_body(image))
