"""The user menu's preferences: the timezone pages show times in (stored in the session)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.web.forms import TimezoneForm


@login_required
@require_POST
def set_timezone(request):
    form = TimezoneForm(request.POST)
    target = request.POST.get("next") or "/"
    # a path on this site only: ``redirect`` would read any other text as a view name (a 500)
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    if form.is_valid():
        request.session["timezone"] = form.cleaned_data["timezone"]
        messages.success(request, f"Times are now shown in {form.cleaned_data['timezone']}.")
    else:
        messages.error(request, "; ".join(form.errors.get("timezone", ["invalid timezone"])))
    return HttpResponseRedirect(target)
