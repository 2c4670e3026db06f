"""Server-rendered pages: overview, inventory, resource detail, providers, admin overview, quotas,
chargeback, project members."""
from django.urls import path

from portal.web import (
    admin_overview,
    chargeback,
    inventory,
    labels,
    members,
    overview,
    preferences,
    providers,
    quotas,
    recommendations,
    reports,
    resources,
)

app_name = "web"
urlpatterns = [
    path("", overview.home, name="home"),
    path("projects/<slug:slug>/", overview.project_overview, name="project_overview"),
    path("inventory/", inventory.inventory, name="inventory"),
    path("inventory/tree/", inventory.inventory_tree, name="inventory_tree"),
    path("inventory/assign/", inventory.assign_resources, name="inventory_assign"),
    path("resources/<int:pk>/", resources.resource_detail, name="resource_detail"),
    path("resources/<int:pk>/action/", resources.resource_action_view, name="resource_action"),
    path("providers/", providers.provider_list, name="provider_list"),
    path("providers/add/", providers.provider_add, name="provider_add"),
    path("providers/<int:pk>/edit/", providers.provider_edit, name="provider_edit"),
    path("providers/<int:pk>/refresh/", providers.provider_refresh, name="provider_refresh"),
    path("providers/runs/<int:pk>/", providers.run_status, name="run_status"),
    path("admin-overview/", admin_overview.admin_overview, name="admin_overview"),
    path("preferences/timezone/", preferences.set_timezone, name="set_timezone"),
    path("quotas/", quotas.quota_list, name="quota_list"),
    path("quotas/defaults/", quotas.quota_defaults, name="quota_defaults"),
    path("quotas/<slug:slug>/edit/", quotas.quota_edit, name="quota_edit"),
    path("chargeback/", chargeback.chargeback_overview, name="chargeback_overview"),
    path("chargeback/labels/", labels.cost_by_label_view, name="cost_by_label"),
    path("recommendations/", recommendations.recommendation_list, name="recommendations"),
    path("projects/<slug:slug>/chargeback/", chargeback.project_chargeback, name="project_chargeback"),
    path("projects/<slug:slug>/chargeback/issue/", chargeback.issue_statement, name="chargeback_issue"),
    path("projects/<slug:slug>/members/", members.project_members, name="project_members"),
    path("projects/<slug:slug>/reports/", reports.project_reports, name="project_reports"),
]
