"""The web login view with throttling of password guessing (see ``portal.authentication``).

A username + client IP that failed ``GLASSPANE_LOGIN_MAX_FAILURES`` times is refused (HTTP 429,
a non-field form error) until the lockout window passes, without checking the password, so
guessing cannot go on at the lockout's edge. A successful login resets that username + IP.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.forms.forms import NON_FIELD_ERRORS

from portal.authentication import client_ip, login_failures

LOCKED_MESSAGE = "Too many failed logins for this user from your address. Try again later."


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = self.data.get("username", "")
        if self.request is not None and login_failures().locked(username, client_ip(self.request)):
            raise ValidationError(LOCKED_MESSAGE, code="throttled")
        return super().clean()


class ThrottledLoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        counter = login_failures()
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            response["Retry-After"] = str(counter.window)
        else:
            counter.fail(self.request.POST.get("username", ""), client_ip(self.request))
        return response

    def form_valid(self, form):
        login_failures().reset(self.request.POST.get("username", ""), client_ip(self.request))
        return super().form_valid(form)


class SignedOutView(auth_views.LogoutView):
    """Sign out, then say so on the login page (the session is gone; the message survives it)."""

    def post(self, request, *args, **kwargs):
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.info(request, "You are signed out.")
        return response
