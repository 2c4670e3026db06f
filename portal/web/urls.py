"""Server-rendered pages: overview, inventory, resource detail, providers, admin overview."""
from django.urls import path

from portal.web import admin_overview, inventory, overview, preferences, providers, resources

app_name = "web"
urlpatterns = [
    path("", overview.home, name="home"),
    path("projects/<slug:slug>/", overview.project_overview, name="project_overview"),
    path("inventory/", inventory.inventory, name="inventory"),
    path("inventory/tree/", inventory.inventory_tree, name="inventory_tree"),
    path("resources/<int:pk>/", resources.resource_detail, name="resource_detail"),
    path("resources/<int:pk>/action/", resources.resource_action_view, name="resource_action"),
    path("providers/", providers.provider_list, name="provider_list"),
    path("providers/add/", providers.provider_add, name="provider_add"),
    path("providers/<int:pk>/edit/", providers.provider_edit, name="provider_edit"),
    path("providers/<int:pk>/refresh/", providers.provider_refresh, name="provider_refresh"),
    path("providers/runs/<int:pk>/", providers.run_status, name="run_status"),
    path("admin-overview/", admin_overview.admin_overview, name="admin_overview"),
    path("preferences/timezone/", preferences.set_timezone, name="set_timezone"),
]
