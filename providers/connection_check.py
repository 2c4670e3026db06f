"""Test connection: check an account's settings and credentials against the platform before saving.

The one service the portal's provider form, Django admin, the API (``POST
/api/v1/providers/test-connection/`` and ``/providers/{name}/test/``) and the command (``provider
test``, ``provider add --test``) call. It builds an unsaved ``ProviderAccount`` through
``ProviderAccount.configure`` (the same validation and the same rules for stored credentials as a
save: a blank credential keeps the stored one, a new endpoint drops them) and asks the driver for
its short ``probe()``, within a time limit. Nothing is written: not the account, not its health.

Bad settings raise ``ConfigurationError`` (field errors, like a save); everything the platform says
comes back as a ``ConnectionCheck``, its ``problem`` taken from the driver's own error classes:
``credentials`` (``ProviderAuthError``), ``unreachable`` (``ProviderUnavailable``, or no answer in
time), ``answer`` (``ProviderDataError``: it answered, but not as expected), ``settings`` (the
driver could not be built from them) or ``error`` (another refusal).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.base import (
    Probe,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    one_line,
)
from providers.models import ProviderAccount

log = logging.getLogger(__name__)

#: seconds a check may take when the caller gives no limit (the ``GLASSPANE_CONNECTION_CHECK_TIMEOUT``
#: setting overrides it): long enough for a TLS handshake and a login, short enough for a web request
DEFAULT_TIMEOUT = 20.0

OK, CREDENTIALS, UNREACHABLE, ANSWER, SETTINGS, ERROR = "", "credentials", "unreachable", "answer", "settings", "error"
#: a word for each problem, as the pages put it before the platform's message
PROBLEM_LABELS = {CREDENTIALS: "Credentials refused", UNREACHABLE: "Cannot reach the provider",
                  ANSWER: "Unexpected answer", SETTINGS: "Settings cannot be used", ERROR: "Refused"}


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of one check: what the platform answered, or why it could not be reached."""

    ok: bool
    message: str  # one line for a person: the probe's summary, or the provider's own error
    kind: str  # the account's driver kind
    problem: str = OK  # one of OK, CREDENTIALS, UNREACHABLE, ANSWER, SETTINGS, ERROR
    probe: Probe | None = None
    seconds: float = 0.0

    @property
    def problem_label(self) -> str:
        return PROBLEM_LABELS.get(self.problem, "")

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "problem": self.problem or None, "message": self.message,
                "probe": self.probe.as_json() if self.probe else None, "seconds": round(self.seconds, 3)}


def timeout_setting() -> float:
    """``GLASSPANE_CONNECTION_CHECK_TIMEOUT``, at least one second."""
    from django.conf import settings

    return max(1.0, float(getattr(settings, "GLASSPANE_CONNECTION_CHECK_TIMEOUT", DEFAULT_TIMEOUT)))


def build(kind: str | None, settings: Mapping[str, Any] | None, credentials: Mapping[str, Any] | None,
          account: ProviderAccount | None = None) -> ProviderAccount:
    """An unsaved account configured as a save would configure it; raises ``ConfigurationError``.

    With ``account`` (an edit), the stored credentials it would keep are kept; ``settings=None``
    keeps its stored settings. The saved account itself is never changed.
    """
    draft = ProviderAccount(pk=account.pk if account is not None else None,
                            name=account.name if account is not None else "",
                            kind=(account.kind if account is not None else "") or kind or "")
    draft.configure(settings, credentials, kind=kind or None, save=False)
    return draft


def check(kind: str | None, settings: Mapping[str, Any] | None = None,
          credentials: Mapping[str, Any] | None = None, *, account: ProviderAccount | None = None,
          timeout: float | None = None) -> ConnectionCheck:
    """Validate like a save, then probe the platform; see the module docstring."""
    draft = build(kind, settings, credentials, account)
    return probe_account(draft, timeout=timeout)


def probe_account(account: ProviderAccount, *, timeout: float | None = None) -> ConnectionCheck:
    """Probe an account as it is (saved or not) within ``timeout`` seconds; never raises for what the
    platform or the driver does. The probe runs in a helper thread: a platform that never answers
    costs the caller ``timeout`` seconds, and the helper ends with the driver's own timeouts."""
    limit = timeout_setting() if timeout is None else float(timeout)
    outcome: dict[str, Any] = {}
    started = time.monotonic()

    def work():
        try:
            driver = account.driver()
        except ProviderError as exc:
            outcome["error"] = exc
            return
        except Exception as exc:  # noqa: BLE001 - a client library refusing the settings, in its own words
            outcome["unusable"] = exc
            return
        try:
            outcome["probe"] = driver.probe()
        except Exception as exc:  # noqa: BLE001 - every failure becomes the check's answer, never a 500
            outcome["error"] = exc
        finally:
            try:
                driver.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                log.debug("closing the %s driver after a connection check failed", account.kind, exc_info=True)

    worker = threading.Thread(target=work, name=f"connection-check {account.kind}", daemon=True)
    worker.start()
    worker.join(limit)
    seconds = time.monotonic() - started
    if worker.is_alive():
        return ConnectionCheck(False, f"no answer within {limit:g} s (the provider may be unreachable from this "
                                      f"server, or slow: a refresh allows longer)", account.kind, UNREACHABLE,
                               seconds=seconds)
    if "probe" in outcome:
        probe = outcome["probe"]
        return ConnectionCheck(True, probe.summary(), account.kind, probe=probe, seconds=seconds)
    if "unusable" in outcome:
        exc = outcome["unusable"]
        return ConnectionCheck(False, f"the settings cannot be used: {one_line(str(exc)) or type(exc).__name__}",
                               account.kind, SETTINGS, seconds=seconds)
    return _failed(outcome.get("error"), account.kind, seconds)


def _failed(exc: BaseException | None, kind: str, seconds: float) -> ConnectionCheck:
    if isinstance(exc, ProviderAuthError):
        problem = CREDENTIALS
    elif isinstance(exc, ProviderUnavailable):
        problem = UNREACHABLE
    elif isinstance(exc, ProviderDataError):
        problem = ANSWER
    elif isinstance(exc, ProviderError):
        problem = ERROR
    else:  # a bug in a driver: said in words here, logged whole for whoever runs the server
        log.error("connection check of a %s account failed unexpectedly", kind, exc_info=exc)
        return ConnectionCheck(False, f"the {kind} driver failed unexpectedly: {type(exc).__name__}: "
                                      f"{one_line(str(exc))}", kind, ERROR, seconds=seconds)
    return ConnectionCheck(False, one_line(str(exc), limit=500), kind, problem, seconds=seconds)
