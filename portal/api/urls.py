"""The REST API under /api/v1/, its OpenAPI schema at /api/schema/ and docs at /api/docs/, and
/metrics for Prometheus."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from portal import metrics
from portal.api import views

app_name = "api"

router = DefaultRouter()
router.include_root_view = False
router.register("projects", views.ProjectViewSet, basename="project")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("providers", views.ProviderAccountViewSet, basename="provider")
router.register("resources", views.ResourceViewSet, basename="resource")
router.register("refresh-runs", views.RefreshRunViewSet, basename="refresh-run")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("metrics", metrics.metrics, name="metrics"),
]
