"""The site's URLs with the throttled login view in place (until portal/urls.py switches to it)."""

from django.urls import path

from portal.auth_views import ThrottledLoginView
from portal.urls import urlpatterns as site

urlpatterns = [path("login/", ThrottledLoginView.as_view(), name="login"), *site]
