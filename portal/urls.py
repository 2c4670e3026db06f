"""Top-level URLs: the web pages, the API, the admin, health and metrics."""

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from portal import views
from portal.auth_views import SignedOutView, ThrottledLoginView


def favicon(request):
    """``/favicon.ico`` -> the SVG icon. Resolved per request: with the manifest storage a
    ``static()`` call at import time fails before ``collectstatic`` has run (``check --deploy``)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", SignedOutView.as_view(), name="logout"),
    path("favicon.ico", favicon),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("portal.web.urls")),
    path("", include("portal.api.urls")),
]

handler400 = views.bad_request
# styled error pages with the navigation (templates/403.html, 404.html, 500.html)
handler500 = "portal.error_views.server_error"
