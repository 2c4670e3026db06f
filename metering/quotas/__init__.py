"""The quota service: limits, live usage, audited editing, atomic admission, breaches, push-down.

Other rooms import from here:

* ``project_usage(project, account=None) -> dict[str, QuotaUsage]``
* ``set_limits(project, values, *, user, source, account=None) -> list[QuotaAudit]``,
  ``set_defaults(values, *, user, source) -> list[QuotaAudit]``, raising ``QuotaValueError``
* ``submit(project, account, spec, *, user, source) -> ProvisionRequest``, raising
  ``QuotaExceeded`` or ``SpecError``; ``release(request, state=..., message=...)``
* ``preview(project, account, spec) -> Preview``: a request's impact on every limit, unrecorded
* ``drift(project) -> list[Drift]``

Modules: ``limits`` (effective limits), ``usage`` (``QuotaUsage``, live counting), ``editing``,
``admission``, ``preview``, ``states`` (ok / near / at / over), ``provisioning`` (the task body), ``breaches``, ``pushdown``, ``signals`` (its tasks are in ``metering.tasks``).
"""

from metering.quotas.admission import QueueUnavailable, QuotaExceeded, release, submit
from metering.quotas.editing import QuotaValueError, set_defaults, set_limits
from metering.quotas.limits import effective_limits
from metering.quotas.preview import Preview, preview
from metering.quotas.pushdown import Drift, drift
from metering.quotas.usage import QuotaUsage, project_usage, usage_by_scope
from providers.base import SpecError

__all__ = [
    "Drift",
    "QueueUnavailable",
    "QuotaExceeded",
    "Preview",
    "QuotaUsage",
    "QuotaValueError",
    "SpecError",
    "drift",
    "effective_limits",
    "preview",
    "project_usage",
    "release",
    "set_defaults",
    "set_limits",
    "submit",
    "usage_by_scope",
]
