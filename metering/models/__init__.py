"""Metering models, split by concept; import them from here."""

from metering.models.allocation import AllocationRule
from metering.models.chargeback import (
    FixedCost,
    HostCost,
    PriceSheet,
    PriceSheetEntry,
    ProjectRatePlan,
    Rate,
    RatePlan,
    Statement,
    StatementLine,
)
from metering.models.collection import CollectionState
from metering.models.currency import ExchangeRate
from metering.models.events import LifecycleEvent
from metering.models.inventory import MappingRule, Resource
from metering.models.ledger import LedgerChange
from metering.models.notify import BudgetAlert, BudgetAlertPolicy, ReportRun, ReportSubscription
from metering.models.quotas import (
    UNLIMITED,
    ProvisionRequest,
    Quota,
    QuotaAudit,
    QuotaBreach,
    QuotaDefault,
    QuotaPush,
    Reservation,
)
from metering.models.recommendations import RecommendationDecision
from metering.models.tenancy import Membership, Project
from metering.models.usage import (
    DailyUsage,
    ExternalProject,
    LastSample,
    ProviderUsage,
    RawSample,
    RefreshRun,
    RolledDay,
    UsageSegment,
    UtilizationRollup,
)

__all__ = [
    "CollectionState",
    "UNLIMITED",
    "AllocationRule",
    "BudgetAlert",
    "BudgetAlertPolicy",
    "DailyUsage",
    "ExchangeRate",
    "ExternalProject",
    "FixedCost",
    "HostCost",
    "LastSample",
    "LedgerChange",
    "LifecycleEvent",
    "MappingRule",
    "Membership",
    "PriceSheet",
    "PriceSheetEntry",
    "Project",
    "ProjectRatePlan",
    "ProviderUsage",
    "ProvisionRequest",
    "Quota",
    "QuotaAudit",
    "QuotaPush",
    "QuotaBreach",
    "QuotaDefault",
    "Rate",
    "RecommendationDecision",
    "RatePlan",
    "RefreshRun",
    "ReportRun",
    "ReportSubscription",
    "Reservation",
    "Resource",
    "Statement",
    "StatementLine",
    "RolledDay",
    "UsageSegment",
    "UtilizationRollup",
    "RawSample",
]
