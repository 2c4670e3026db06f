"""The REST API under /api/v1/, its OpenAPI schema at /api/schema/ and docs at /api/docs/, and
/metrics for Prometheus."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from portal import metrics
from portal.api import views

app_name = "api"

router = DefaultRouter()
router.include_root_view = False
router.include_format_suffixes = False  # ?format= only: one URL per object
router.register("projects", views.ProjectViewSet, basename="project")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("providers", views.ProviderAccountViewSet, basename="provider")
router.register("resources", views.ResourceViewSet, basename="resource")
router.register("refresh-runs", views.RefreshRunViewSet, basename="refresh-run")
router.register("quota-breaches", views.QuotaBreachViewSet, basename="quota-breach")
router.register("provision-requests", views.ProvisionRequestViewSet, basename="provision-request")
router.register("statements", views.StatementViewSet, basename="statement")
router.register("rate-plans", views.RatePlanViewSet, basename="rate-plan")
router.register("report-subscriptions", views.ReportSubscriptionViewSet, basename="report-subscription")
router.register("budget-alerts", views.BudgetAlertViewSet, basename="budget-alert")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/v1/quota-defaults/", views.QuotaDefaultsView.as_view(), name="quota-defaults"),
    path("api/v1/costs-by-label/", views.CostByLabelView.as_view(), name="costs-by-label"),
    path("api/v1/recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path("api/v1/recommendation-decisions/", views.RecommendationDecisionView.as_view(),
         name="recommendation-decisions"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("metrics", metrics.metrics, name="metrics"),
    re_path(r"^api/", views.api_not_found),  # last: unmatched API paths get a JSON 404
]
