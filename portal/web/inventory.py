"""Inventory: one table of hosts, VMs, containers and volumes across every provider, and a tree.

Filtering is ``metering.filtersets.ResourceFilterSet`` (the same FilterSet as the API) over a
queryset already scoped to what the user may see; the view adds sorting and paging only.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from metering import access, assignment
from metering.filtersets import ResourceFilterSet
from metering.models import Project, Resource
from portal.web import resource_facts
from portal.web.selection import staff_required

PAGE_SIZE = 50
SORTS = {
    "name": "name", "kind": "kind", "state": "state", "provider": "account__name",
    "project": "project__slug", "vcpus": "vcpus", "ram": "ram_mb", "disk": "disk_gb", "seen": "last_seen",
    "flavor": "flavor", "host": "parent__name",
}
TREE_LIMIT = 2000  # the tree is for reading, not for exporting; past this, filter first


def _scoped(request):
    return access.scope(Resource.objects.select_related("account", "project", "parent"), request.user)


@login_required
def inventory(request):
    filterset = ResourceFilterSet(request.GET, queryset=_scoped(request), request=request)
    sort = request.GET.get("sort", "name")
    field = SORTS.get(sort.lstrip("-"), "name")
    order = [f"-{field}" if sort.startswith("-") else field, "pk"]
    qs = filterset.qs.order_by(*order) if filterset.is_valid() else Resource.objects.none()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    columns = [("name", "Name"), ("kind", "Kind"), ("provider", "Provider"), ("project", "Project"),
               ("state", "State"), ("flavor", "Flavor"), ("vcpus", "vCPUs"), ("ram", "RAM (GiB)"),
               ("disk", "Disk (GiB)")]
    if request.user.is_staff:
        columns.append(("host", "Host"))
    columns += [("addresses", "Addresses"), ("seen", "Last seen")]
    rows = list(page.object_list)
    staff = request.user.is_staff
    slugs = {slugify(r.project_hint)[:50].strip("-") for r in rows if r.project_id is None and r.project_hint}
    taken = set(Project.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    for r in rows:
        r.host_name = resource_facts.host_name(r) if staff else ""
        r.addresses = resource_facts.addresses(r.properties)
        hint_slug = slugify(r.project_hint)[:50].strip("-") if r.project_id is None and r.project_hint else ""
        r.new_project_slug = hint_slug if hint_slug and hint_slug not in taken else ""
    assignable = staff and any(r.project_id is None and r.deleted_at is None and r.kind != "host" for r in rows)
    return render(request, "web/inventory.html", {
        "title": "Inventory",
        "filterset": filterset,
        "page": page,
        "rows": rows,
        "assignable": assignable,
        "projects": list(Project.objects.order_by("slug").only("slug", "name")) if assignable else [],
        "include_deleted": filterset.form.cleaned_data.get("include_deleted") if filterset.is_valid() else False,
        "unassigned": filterset.form.cleaned_data.get("unassigned") if filterset.is_valid() else False,
        "sort": sort,
        "columns": [{"key": k, "label": label, "sorted": sort.lstrip("-") == k, "desc": sort.startswith("-"),
                     "next": f"-{k}" if sort == k else k} for k, label in columns],
        "sort_query": sort_query.urlencode(),
        "page_query": query.urlencode(),
        "any_resources": page.paginator.count > 0 or _scoped(request).exists(),
    })


@login_required
def inventory_tree(request):
    """Host -> VM -> containers, for what the user may see (a VM whose host they may not see is a root)."""
    filterset = ResourceFilterSet(request.GET, queryset=_scoped(request), request=request)
    rows = list(filterset.qs.order_by("kind", "name", "pk")[:TREE_LIMIT]) if filterset.is_valid() else []
    by_id = {r.pk: r for r in rows}
    children: dict[int | None, list] = {}
    for r in rows:
        parent = r.parent_id if r.parent_id in by_id else None
        children.setdefault(parent, []).append(r)
    order = {"host": 0, "vm": 1, "container": 2, "volume": 3}

    def build(parent_id, depth=0):
        nodes = sorted(children.get(parent_id, []), key=lambda r: (order.get(r.kind, 9), r.name))
        out = []
        for r in nodes:
            kids = build(r.pk, depth + 1) if depth < 8 else []
            out.append({"resource": r, "children": kids, "count": sum(1 + k["count"] for k in kids)})
        return out

    return render(request, "web/inventory_tree.html", {
        "title": "Inventory tree",
        "filterset": filterset,
        "tree": build(None),
        "truncated": len(rows) == TREE_LIMIT,
        "query": request.GET.urlencode(),
    })


@staff_required
@require_POST
def assign_resources(request):
    """Assign in place from the inventory: one row (its own project select) or the checked rows
    (the bulk select), or create the project a provider's hint names and assign to it. Same
    service as ``POST /api/v1/resources/assign/``."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) or not back.startswith("/"):
        back = "/inventory/?unassigned=true"
    try:
        if request.POST.get("create_hint"):
            resource = _scoped(request).filter(pk=_int(request.POST["create_hint"])).first()
            if resource is None or not resource.project_hint:
                raise assignment.AssignmentError("that resource has no project reference from its provider")
            project = assignment.project_for_hint(resource.project_hint)
            ids = [resource.pk]
        else:
            one = request.POST.get("one")
            ids = [_int(one)] if one else [_int(v) for v in request.POST.getlist("resource")]
            slug = request.POST.get(f"project-{one}" if one else "project", "")
            project = Project.objects.filter(slug=slug).first()
            if project is None:
                raise assignment.AssignmentError("choose a project to assign to" if not slug
                                                 else f"there is no project {slug!r}")
        done = assignment.assign(ids, project, queryset=_scoped(request))
    except assignment.AssignmentError as exc:
        messages.error(request, f"Nothing assigned: {exc}.")
        return redirect(back)
    messages.success(request, f"Assigned {done.resources} resource{'s' if done.resources != 1 else ''} to "
                              f"{project.slug}; the next refresh keeps {'them' if done.resources != 1 else 'it'} there.")
    return redirect(back)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise assignment.AssignmentError(f"{value!r} is not a resource id") from None
