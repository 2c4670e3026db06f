"""Inventory: one table of hosts, VMs, containers and volumes across every provider, and a tree.

Filtering is ``metering.filtersets.ResourceFilterSet`` (the same FilterSet as the API) over a
queryset already scoped to what the user may see; the view adds sorting and paging only.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from metering import access
from metering.filtersets import ResourceFilterSet
from metering.models import Resource

PAGE_SIZE = 50
SORTS = {
    "name": "name", "kind": "kind", "state": "state", "provider": "account__name",
    "project": "project__slug", "vcpus": "vcpus", "ram": "ram_mb", "disk": "disk_gb", "seen": "last_seen",
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
               ("state", "State"), ("vcpus", "vCPUs"), ("ram", "RAM (MB)"), ("disk", "Disk (GB)"),
               ("seen", "Last seen")]
    return render(request, "web/inventory.html", {
        "title": "Inventory",
        "filterset": filterset,
        "page": page,
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
        return [{"resource": r, "children": build(r.pk, depth + 1) if depth < 8 else []} for r in nodes]

    return render(request, "web/inventory_tree.html", {
        "title": "Inventory tree",
        "filterset": filterset,
        "tree": build(None),
        "truncated": len(rows) == TREE_LIMIT,
        "query": request.GET.urlencode(),
    })
