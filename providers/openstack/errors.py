"""Turning keystoneauth and openstacksdk failures into the driver contract's errors.

Rules (from ``providers.base``): cannot connect, discovery failed or 5xx -> ``ProviderUnavailable``;
401/403 -> ``ProviderAuthError`` naming the role that is missing; anything else the cloud says no
to, or an answer that is not the JSON the API reference promises -> ``ProviderDataError``. Nova
answers 403 for an exceeded quota too; that one becomes ``PlatformQuotaExceeded``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc

from providers.base import ProviderAuthError, ProviderDataError, ProviderError, ProviderUnavailable


class PlatformQuotaExceeded(ProviderError):
    """OpenStack refused a request because the project's own quota (Nova/Cinder) is used up."""


def _classify(status: int | None, message: str, doing: str, role: str | None) -> ProviderError:
    if status == 401:
        return ProviderAuthError(f"OpenStack refused the credentials while trying to {doing} (401): {message}")
    if status == 403 and message.startswith("Quota exceeded"):
        return PlatformQuotaExceeded(f"cannot {doing}: {message}")
    if status == 403:
        needed = f"{role} role required to {doing}" if role else f"not allowed to {doing}"
        return ProviderAuthError(f"{needed} (403: {message})")
    if status == 413:
        return PlatformQuotaExceeded(f"cannot {doing}: {message}")
    if status is not None and status >= 500:
        return ProviderUnavailable(f"OpenStack failed while trying to {doing} ({status}): {message}")
    return ProviderDataError(f"OpenStack refused to {doing} ({status}): {message}")


@contextmanager
def translated(doing: str, role: str | None = None) -> Iterator[None]:
    """Run a block of client calls; re-raise its failures as ``ProviderError`` subclasses."""
    try:
        yield
    except ks_exc.ConnectionError as exc:
        raise ProviderUnavailable(f"cannot reach OpenStack to {doing}: {exc}") from exc
    except ks_exc.DiscoveryFailure as exc:
        raise ProviderUnavailable(f"cannot discover the OpenStack API to {doing}: {exc}") from exc
    except ks_exc.EndpointNotFound as exc:
        raise ProviderDataError(f"the service catalog has no endpoint needed to {doing}: {exc}") from exc
    except ks_exc.HttpError as exc:
        raise _classify(exc.http_status, exc.message or str(exc), doing, role) from exc
    except ks_exc.AuthorizationFailure as exc:
        raise ProviderAuthError(f"cannot authenticate to {doing}: {exc}") from exc
    except ks_exc.auth_plugins.AuthPluginException as exc:
        raise ProviderAuthError(f"incomplete credentials, cannot {doing}: {exc}") from exc
    except ks_exc.ClientException as exc:
        raise ProviderUnavailable(f"OpenStack client failed to {doing}: {exc}") from exc
    except os_exc.HttpException as exc:
        raise _classify(exc.status_code, _sdk_message(exc), doing, role) from exc
    except os_exc.ConfigException as exc:  # e.g. a service missing from the catalog: not the credentials
        raise ProviderDataError(f"the cloud's service catalog or client configuration does not allow to "
                                f"{doing}: {exc}") from exc
    except os_exc.SDKException as exc:
        inner = exc.__cause__ or exc.__context__  # the SDK wraps keystoneauth's 401 on authorize()
        if isinstance(inner, ks_exc.HttpError):
            raise _classify(inner.http_status, inner.message or str(inner), doing, role) from exc
        raise ProviderDataError(f"openstacksdk failed to {doing}: {exc}") from exc


def _sdk_message(exc: os_exc.HttpException) -> str:
    """The cloud's own message (``{"forbidden": {"message": ...}}``) rather than the SDK's summary."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and len(body) == 1:
            inner = next(iter(body.values()))
            if isinstance(inner, dict) and inner.get("message"):
                return str(inner["message"])
    return exc.details or exc.message or str(exc)
