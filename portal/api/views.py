"""API views: thin viewsets over scoped querysets.

Every queryset goes through ``metering.access``, so an object in a project the caller cannot see
is a 404, never a 403. What a caller who can see an object may do with it is decided by
``portal.api.permissions`` (403 when the role is too low). Unknown query parameters are 400
(``portal.api.query``). Error responses are added to every operation of the schema by
``portal.api.schema``; ``extend_schema`` here describes the rest.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from metering import access, assignment, memberships, quotas, tasks
from metering import recommendations as recommendations_module
from metering.chargeback.by_label import LabelReportError, cost_by_label
from metering.chargeback.currency import NoExchangeRate, convert, converted_json, converted_rows
from metering.chargeback.export import statement_json, statement_rows
from metering.chargeback.focus import focus_rows
from metering.choices import ChangeSource, QuotaKey, RequestState, Role
from metering.export import csv_stream, usage_rows
from metering.filtersets import (
    MembershipFilterSet,
    ProviderAccountFilterSet,
    ProvisionRequestFilterSet,
    QuotaBreachFilterSet,
    RefreshRunFilterSet,
    ResourceFilterSet,
    StatementFilterSet,
)
from metering.models import (
    BudgetAlert,
    Membership,
    ProvisionRequest,
    QuotaBreach,
    RatePlan,
    RefreshRun,
    Resource,
    Statement,
    UtilizationRollup,
)
from metering.notify import access as notify_access
from metering.quotas import limits as limits_module
from metering.reports import usage_report
from portal.api import serializers as s
from portal.api.negotiation import CSVErrorsAsJSON, CSVRenderer, FOCUSRenderer
from portal.api.pagination import ResourceCursorPagination
from portal.api.permissions import IsStaff, ProjectRole, TokenScopePermission
from portal.api.query import StrictQueryParams
from providers import connection_check
from providers.configure import ConfigurationError
from providers.models import ProviderAccount

BASE_PERMISSIONS = [IsAuthenticated, TokenScopePermission]

PERIOD_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="first day, YYYY-MM-DD"),
    OpenApiParameter("end", OpenApiTypes.DATE, required=True,
                     description="day after the last, YYYY-MM-DD (exclusive); at most GLASSPANE_MAX_PERIOD_DAYS "
                                 "after start"),
    OpenApiParameter("tz", OpenApiTypes.STR, description="IANA timezone of the dates (default UTC)"),
]
STATEMENT_FORMAT_PARAM = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "focus"],
                                          description="csv streams the statement; focus streams FOCUS 1.0 rows")
STATEMENT_CURRENCY_PARAM = OpenApiParameter(
    "currency", OpenApiTypes.STR, description="ISO 4217 report currency: every line converted with the dated "
                                              "exchange rate of its last day (rate and date on the line)")
FORMAT_PARAM = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"],
                                description="csv streams the export instead of JSON")


def queue_unavailable(what: str) -> Response:
    """503 with Retry-After: the broker is down (found within ``GLASSPANE_BROKER_TIMEOUT`` seconds)."""
    return Response({"detail": f"The task queue cannot be reached: {what}. Try again later."},
                    status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(tasks.RETRY_AFTER)})


class GlasspaneViewSet(StrictQueryParams, viewsets.GenericViewSet):
    permission_classes = BASE_PERMISSIONS

    def filter_queryset(self, queryset):
        # filters are for lists; a detail URL names its object (a deleted resource included)
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


# -- projects ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Projects you can see"),
    retrieve=extend_schema(summary="One project"),
    create=extend_schema(summary="Create a project (staff)"),
    update=extend_schema(summary="Replace a project (staff)"),
    partial_update=extend_schema(summary="Change a project (staff)"),
)
class ProjectViewSet(CSVErrorsAsJSON, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, GlasspaneViewSet):
    serializer_class = s.ProjectSerializer
    lookup_field = "slug"
    lookup_value_regex = "[a-z0-9][a-z0-9-]{0,62}"
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["slug", "name"]
    ordering_fields = ["slug", "name", "created_at"]
    write_role = "staff"
    query_params = {"usage": ("start", "end", "tz")}

    def get_queryset(self):
        return access.visible_projects(self.request.user).select_related("parent").order_by("slug")

    def get_permissions(self):
        if self.action == "create":
            return [*[p() for p in BASE_PERMISSIONS], IsStaff()]
        return [*[p() for p in BASE_PERMISSIONS], ProjectRole()]

    def project_of(self, project):
        return project

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user
        if user.is_authenticated and not user.is_staff:
            context["roles"] = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
        return context

    @extend_schema(
        summary="Usage of the project over a period",
        description="Measures per resource and totals over [start, end). `?format=csv` streams the same report "
                    "as CSV (the dashboard's download).",
        parameters=[*PERIOD_PARAMS, FORMAT_PARAM],
        responses={200: OpenApiResponse(s.UsageReportSerializer, description="the report (JSON or CSV)")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer])
    def usage(self, request, slug=None):
        project = self.get_object()
        period = s.PeriodQuerySerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        start, end = period.validated_data["range"]
        report = usage_report(start, end, project=project)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(csv_stream(usage_rows(report)), content_type="text/csv; charset=utf-8")
            filename = f"usage-{project.slug}-{period.validated_data['start']}-{period.validated_data['end']}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        data = {"project": project.slug, "start": start, "end": end, "active": report.active(),
                "totals": report.totals, "rows": report.rows}
        return Response(s.UsageReportSerializer(data).data)


    @extend_schema(summary="Limit summary: every quota with its usage (Horizon's pie charts)",
                   responses={200: s.ProjectLimitsSerializer})
    @action(detail=True, methods=["get"])
    def limits(self, request, slug=None):
        project = self.get_object()
        scopes = [{"account": None, "quotas": [q.as_dict() for q in quotas.project_usage(project).values()]}]
        for account in self._narrowed_accounts(project):
            usage = quotas.project_usage(project, account)
            scopes.append({"account": account.name, "quotas": [q.as_dict() for q in usage.values()]})
        return Response(s.ProjectLimitsSerializer({"project": project.slug, "scopes": scopes}).data)

    @extend_schema(methods=["GET"], summary="The project's limits: its own values and the enforced ones",
                   responses={200: s.ProjectQuotasSerializer})
    @extend_schema(methods=["PUT"], summary="Replace the project's limits in one scope (staff; audited)",
                   description="Keys left out lose the project's own value (the site default applies again).",
                   request=s.QuotaChangeSerializer, responses={200: s.ProjectQuotasSerializer})
    @extend_schema(methods=["PATCH"], summary="Change some of the project's limits (staff; audited)",
                   request=s.QuotaChangeSerializer, responses={200: s.ProjectQuotasSerializer})
    @action(detail=True, methods=["get", "put", "patch"])
    def quotas(self, request, slug=None):
        project = self.get_object()
        if request.method != "GET":
            change = s.QuotaChangeSerializer(data=request.data)
            change.is_valid(raise_exception=True)
            values = dict(change.validated_data["limits"])
            if request.method == "PUT":
                values = {key: values.get(key) for key in QuotaKey.values}
            try:
                quotas.set_limits(project, values, user=request.user, source=ChangeSource.API,
                                  account=change.validated_data.get("provider"))
            except quotas.QuotaValueError as exc:
                raise ValidationError({"limits": {k: [v] for k, v in exc.errors.items()}}) from None
        explicit = limits_module.explicit_limits(project)
        scopes = [{"account": None, "limits": {k: explicit.get((None, k)) for k in QuotaKey.values},
                   "effective": quotas.effective_limits(project)}]
        for account in self._narrowed_accounts(project):
            scopes.append({"account": account.name,
                           "limits": {k: explicit.get((account.pk, k)) for k in QuotaKey.values},
                           "effective": quotas.effective_limits(project, account)})
        return Response(s.ProjectQuotasSerializer({"project": project.slug, "scopes": scopes}).data)

    @extend_schema(summary="Drift: each provider project's own limits and usage beside Glasspane's",
                   description="Per mapped provider project and key: Glasspane's limit and count, the provider's "
                               "(as last read or pushed), and the last push: `not applied` with the provider's "
                               "message and the next retry, until a later push succeeds.",
                   responses={200: s.QuotaDriftSerializer})
    @action(detail=True, methods=["get"], url_path="quota-drift", url_name="drift")
    def quota_drift(self, request, slug=None):
        project = self.get_object()
        rows = [d.as_dict() for d in quotas.drift(project)]
        return Response(s.QuotaDriftSerializer({"project": project.slug, "rows": rows}).data)

    @staticmethod
    def _narrowed_accounts(project):
        ids = {aid for aid in limits_module.project_limits(project) if aid is not None}
        return ProviderAccount.objects.filter(pk__in=ids).order_by("name")


# -- memberships ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Memberships of the projects you administer"),
    retrieve=extend_schema(summary="One membership"),
    create=extend_schema(summary="Add a user to a project (its admins and staff)"),
    update=extend_schema(summary="Change a member's role"),
    partial_update=extend_schema(summary="Change a member's role"),
    destroy=extend_schema(summary="Remove a user from a project"),
)
class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, GlasspaneViewSet):
    serializer_class = s.MembershipSerializer
    filterset_class = MembershipFilterSet
    permission_classes = [*BASE_PERMISSIONS, ProjectRole]
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def get_queryset(self):
        qs = Membership.objects.select_related("user", "project").order_by("project__slug", "user__username")
        return access.scope(qs, self.request.user, at_least=Role.ADMIN)

    def perform_create(self, serializer):
        if not access.has_role(self.request.user, serializer.validated_data["project"], Role.ADMIN):
            raise PermissionDenied("Only the project's admins (or staff) may add members.")
        serializer.save()

    def perform_update(self, serializer):
        role = serializer.validated_data.get("role", serializer.instance.role)
        try:
            memberships.change_role(serializer.instance, role)
        except memberships.LastAdminError as exc:
            raise ValidationError({"role": [str(exc)]}) from None

    def perform_destroy(self, instance):
        try:
            memberships.remove(instance)
        except memberships.LastAdminError as exc:
            raise ValidationError({"detail": str(exc)}) from None


# -- providers ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Provider accounts (staff)"),
    retrieve=extend_schema(summary="One provider account (staff)"),
    create=extend_schema(summary="Connect a provider account (staff); settings are validated by its driver"),
    update=extend_schema(summary="Replace an account's settings (staff)"),
    partial_update=extend_schema(summary="Change an account (staff); omit credentials to keep them"),
    destroy=extend_schema(summary="Disconnect an account and forget its inventory (staff)"),
)
class ProviderAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                             mixins.UpdateModelMixin, mixins.DestroyModelMixin, GlasspaneViewSet):
    serializer_class = s.ProviderAccountSerializer
    permission_classes = [*BASE_PERMISSIONS, IsStaff]
    lookup_field = "name"
    lookup_value_regex = "[a-z0-9][a-z0-9_-]{0,62}"
    queryset = ProviderAccount.objects.order_by("name")
    filterset_class = ProviderAccountFilterSet

    def _check(self, request, account=None) -> Response:
        """Test connection (``providers.connection_check``): bad settings are a 400 as for a save; what
        the provider answers, refusals included, is a 200 saying ``ok`` or not. Nothing is saved."""
        serializer = s.ConnectionTestSerializer(data=request.data, context={"request": request, "account": account})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = connection_check.check(data.get("kind"), data.get("settings"), data.get("credentials"),
                                            account=account)
        except ConfigurationError as exc:
            raise ValidationError({where: {k: [v] for k, v in errors.items()} if isinstance(errors, dict)
                                   else [errors] for where, errors in exc.errors.items()}) from None
        return Response(result.as_json())

    @extend_schema(summary="Test connection before saving (staff)",
                   description="Checks a kind, settings and credentials against the provider (its version and "
                               "a few counts, or its own error) without saving anything. Invalid settings: 400 "
                               "with field errors, as for a create. Anything the provider answers: 200 with "
                               "`ok` true or false.",
                   request=s.ConnectionTestSerializer, responses={200: s.ConnectionCheckSerializer})
    @action(detail=False, methods=["post"], url_path="test-connection", url_name="test-connection",
            pagination_class=None, filter_backends=[])
    def check_connection(self, request):
        return self._check(request)

    @extend_schema(summary="Test a saved account's connection, optionally with changes (staff)",
                   description="The account's stored settings and credentials, changed as a PATCH with the "
                               "same body would change them (given settings replace the stored ones; omitted or "
                               "blank credentials keep theirs unless an endpoint changes), checked against the "
                               "provider without saving.",
                   request=s.ConnectionTestSerializer, responses={200: s.ConnectionCheckSerializer})
    @action(detail=True, methods=["post"], url_path="test", url_name="test", pagination_class=None, filter_backends=[])
    def check_saved(self, request, name=None):
        return self._check(request, self.get_object())


# -- inventory ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Inventory: hosts, VMs, containers and volumes you can see",
                       description="Filtered like the web inventory; deleted resources only with "
                                   "`include_deleted=true`. Cursor-paginated."),
    retrieve=extend_schema(summary="One resource (deleted ones too)"),
)
class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GlasspaneViewSet):
    serializer_class = s.ResourceSerializer
    filterset_class = ResourceFilterSet
    filter_backends = [*GlasspaneViewSet.filter_backends, OrderingFilter]
    ordering_fields = ["name", "kind", "state", "first_seen", "last_seen", "id"]
    pagination_class = ResourceCursorPagination
    query_params = {"utilization": ("start", "end", "tz")}

    def get_queryset(self):
        qs = Resource.objects.select_related("account", "project", "parent", "parent__project")
        return access.scope(qs, self.request.user)

    @extend_schema(
        summary="Hourly utilization of a resource",
        description="Hourly rollups whose hour starts in [start, end) (default: the last 7 days).",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="first day, YYYY-MM-DD"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="day after the last, YYYY-MM-DD (exclusive)"),
            PERIOD_PARAMS[2],
        ],
        responses={200: s.UtilizationSerializer},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def utilization(self, request, pk=None):
        resource = self.get_object()
        period = s.OptionalPeriodQuerySerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        start, end = period.validated_data["range"]
        hours = UtilizationRollup.objects.filter(resource=resource, hour__gte=start, hour__lt=end).order_by("hour")
        return Response(s.UtilizationSerializer({"resource": resource.pk, "start": start, "end": end,
                                                 "hours": hours}).data)

    @extend_schema(
        summary="Assign resources to a project (staff)",
        description="Puts the resources in the project now and keeps it with a mapping rule, so the next "
                    "refresh maps them the same way (the inventory page's assign uses the same service).",
        request=s.AssignSerializer, responses={200: s.AssignedSerializer},
    )
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[],
            permission_classes=[*BASE_PERMISSIONS, IsStaff])
    def assign(self, request):
        serializer = s.AssignSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            done = assignment.assign(serializer.validated_data["resources"], serializer.validated_data["project"],
                                     queryset=self.get_queryset())
        except assignment.AssignmentError as exc:
            raise ValidationError({"resources": [str(exc)]}) from None
        return Response(s.AssignedSerializer(done).data)


# -- refresh runs -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Refresh runs, newest first (staff)"),
    retrieve=extend_schema(summary="One refresh run: its status and counts (staff)"),
)
class RefreshRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GlasspaneViewSet):
    serializer_class = s.RefreshRunSerializer
    permission_classes = [*BASE_PERMISSIONS, IsStaff]
    filterset_class = RefreshRunFilterSet
    queryset = RefreshRun.objects.select_related("account").order_by("-queued_at", "-id")

    @extend_schema(
        summary="Start a refresh of one provider account (staff)",
        description="Queues the refresh and answers 202 at once; poll the run's URL (the Location header) "
                    "for its status.",
        request=s.RefreshRunSerializer,
        responses={202: s.RefreshRunSerializer,
                   503: OpenApiResponse(description="the task queue cannot be reached")},
    )
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            run = tasks.enqueue_refresh(serializer.validated_data["account"], trigger="api")
        except BrokerError:
            return queue_unavailable("the refresh was not started")
        run.refresh_from_db()
        location = reverse("api:refresh-run-detail", kwargs={"pk": run.pk})
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": request.build_absolute_uri(location)})


# -- quotas ------------------------------------------------------------------------------------------


class QuotaDefaultsView(StrictQueryParams, APIView):
    """The site-wide default limits (what a project without its own value gets)."""

    permission_classes = BASE_PERMISSIONS

    def get_permissions(self):
        extra = [IsStaff()] if self.request.method not in ("GET", "HEAD", "OPTIONS") else []
        return [*super().get_permissions(), *extra]

    @extend_schema(summary="Site-wide default limits (-1 = unlimited)", responses={200: s.QuotaValuesSerializer})
    def get(self, request):
        return Response(limits_module.defaults())

    def _change(self, request, partial):
        serializer = s.QuotaValuesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        if not partial:
            values = {key: values.get(key) for key in QuotaKey.values}
        try:
            quotas.set_defaults(values, user=request.user, source=ChangeSource.API)
        except quotas.QuotaValueError as exc:
            raise ValidationError({k: [v] for k, v in exc.errors.items()}) from None
        return Response(limits_module.defaults())

    @extend_schema(summary="Replace the default limits (staff; audited); a key left out becomes unlimited",
                   request=s.QuotaValuesSerializer, responses={200: s.QuotaValuesSerializer})
    def put(self, request):
        return self._change(request, partial=False)

    @extend_schema(summary="Change some default limits (staff; audited); null removes one (unlimited)",
                   request=s.QuotaValuesSerializer, responses={200: s.QuotaValuesSerializer})
    def patch(self, request):
        return self._change(request, partial=True)


@extend_schema_view(
    list=extend_schema(summary="Quota breaches of the projects you can see, newest first"),
    retrieve=extend_schema(summary="One quota breach"),
)
class QuotaBreachViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GlasspaneViewSet):
    serializer_class = s.QuotaBreachSerializer
    filterset_class = QuotaBreachFilterSet

    def get_queryset(self):
        qs = QuotaBreach.objects.select_related("project", "account").order_by("-opened_at", "-id")
        return access.scope(qs, self.request.user)


def _spec_invalid(exc) -> ValidationError:
    """A ``SpecError`` as the API's 400: errors on ``account`` are the body's ``provider`` field."""
    return ValidationError({("provider" if k == "account" else k): [v] for k, v in exc.errors.items()})


@extend_schema_view(
    list=extend_schema(summary="Provisioning requests of the projects you can see, newest first"),
    retrieve=extend_schema(summary="One provisioning request: its state and message"),
)
class ProvisionRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GlasspaneViewSet):
    serializer_class = s.ProvisionRequestSerializer
    filterset_class = ProvisionRequestFilterSet

    def get_queryset(self):
        qs = ProvisionRequest.objects.select_related("project", "account", "requested_by").order_by("-created_at", "-id")
        return access.scope(qs, self.request.user)

    def _members_request(self, request):
        """The validated request body (``serializer, project, account, spec``) of a project member or
        staff: what creating a request and previewing one both start from."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not access.has_role(request.user, data["project"], Role.MEMBER):
            raise PermissionDenied("Only the project's members (or staff) may request resources.")
        return serializer, data["project"], data["account"], data["spec"]

    @extend_schema(
        summary="Ask for a VM, container or volume (project members)",
        description="Checked atomically against every applicable limit. Admitted: 202 with the request, whose URL "
                    "(also the Location header) shows its state. Refused by a quota: 403 with the quota's message.",
        request=s.ProvisionRequestSerializer,
        responses={202: s.ProvisionRequestSerializer,
                   403: OpenApiResponse(s.QuotaRefusalSerializer,
                                        description="refused by a quota (or your role is below member)")},
    )
    def create(self, request):
        serializer, project, account, spec = self._members_request(request)
        key = request.headers.get("Idempotency-Key", "").strip()[:255]
        first = self._first_with_key(request, key)
        if first is not None:
            return self._answer(first)
        try:
            created = quotas.submit(project, account, spec, user=request.user, source=ChangeSource.API,
                                    idempotency_key=key)
        except IntegrityError:  # the same key, at the same moment: the other request won
            first = self._first_with_key(request, key)
            if first is None:
                raise
            return self._answer(first)
        except quotas.SpecError as exc:
            raise _spec_invalid(exc) from None
        except quotas.QueueUnavailable:
            return queue_unavailable("the request was not started and holds no quota; ask again")
        except quotas.QuotaExceeded as exc:
            return Response({"detail": exc.message, "key": exc.key, "requested": str(exc.requested),
                             "used": str(exc.used), "limit": exc.limit}, status=status.HTTP_403_FORBIDDEN)
        serializer.instance = created  # answered by the serializer already built (building one costs ~2 ms)
        return self._answer(created, serializer)

    @extend_schema(
        summary="The quota impact of a request, without making it (project members)",
        description="The same body as creating a request, checked by the same admission without recording "
                    "anything: for each limit of each scope, what is in use, what the request adds, the total "
                    "after it and its state (ok, near, at, over); the budget's in use is the month's forecast "
                    "and the request adds its cost at the project's rates. 200 whether it fits or not; "
                    "``refusal`` carries the refusal a submission would get now.",
        request=s.ProvisionRequestSerializer,
        responses={200: s.ProvisionPreviewSerializer},
    )
    @action(detail=False, methods=["post"], url_path="preview")
    def preview(self, request):
        _serializer, project, account, spec = self._members_request(request)
        try:
            found = quotas.preview(project, account, spec)
        except quotas.SpecError as exc:
            raise _spec_invalid(exc) from None
        return Response(s.ProvisionPreviewSerializer(found.as_dict()).data)

    @staticmethod
    def _first_with_key(request, key: str):
        """The request this user already made with this ``Idempotency-Key`` (a client's retry)."""
        if not key or not request.user.is_authenticated:
            return None
        return ProvisionRequest.objects.filter(requested_by=request.user, idempotency_key=key).first()

    def _answer(self, created: ProvisionRequest, serializer=None) -> Response:
        if created.state == RequestState.REFUSED:
            return Response({"detail": created.message}, status=status.HTTP_403_FORBIDDEN)
        body = (serializer or self.get_serializer(created)).data
        # str(): the serializer's url is a Hyperlink (a str subclass), which strict WSGI servers refuse
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})


# -- chargeback --------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Issued statements of the projects you can see"),
    retrieve=extend_schema(summary="One statement with its lines; ?format=csv streams it, ?format=focus streams "
                                   "FinOps FOCUS 1.0 rows; ?currency=EUR converts JSON and CSV",
                           parameters=[STATEMENT_FORMAT_PARAM, STATEMENT_CURRENCY_PARAM],
                           responses={200: s.StatementDetailSerializer}),
)
class StatementViewSet(CSVErrorsAsJSON, mixins.ListModelMixin, mixins.RetrieveModelMixin, GlasspaneViewSet):
    serializer_class = s.StatementSerializer
    filterset_class = StatementFilterSet
    query_params = {"retrieve": ("currency",)}

    def get_queryset(self):
        qs = Statement.objects.select_related("project").order_by("project__slug", "-period_start", "-revision")
        return access.scope(qs, self.request.user)

    def get_renderers(self):
        renderers = super().get_renderers()
        if self.action == "retrieve":
            renderers += [CSVRenderer(), FOCUSRenderer()]
        return renderers

    def retrieve(self, request, pk=None):
        statement = self.get_object()
        code = request.query_params.get("currency")
        conversion = None
        if code is not None:
            if request.accepted_renderer.format == "focus":
                raise ValidationError({"currency": ["FOCUS keeps the billing currency; convert the CSV or JSON"]})
            try:
                conversion = convert(statement, code)
            except ValueError as exc:
                raise ValidationError({"currency": [str(exc)]}) from None
            except NoExchangeRate as exc:
                raise ValidationError({"currency": [str(exc)]}) from None
        if request.accepted_renderer.format == "focus":
            response = StreamingHttpResponse(csv_stream(focus_rows(statement)), content_type="text/csv; charset=utf-8")
            name = f"focus-{statement.project.slug}-{statement.period_start:%Y-%m-%d}-r{statement.revision}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        if request.accepted_renderer.format == "csv":
            rows = converted_rows(statement, conversion) if conversion else statement_rows(statement)
            response = StreamingHttpResponse(csv_stream(rows), content_type="text/csv; charset=utf-8")
            suffix = f"-{conversion.target}" if conversion else ""
            name = (f"statement-{statement.project.slug}-{statement.period_start:%Y-%m-%d}-r{statement.revision}"
                    f"{suffix}.csv")
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        data = statement_json(statement)
        if conversion is not None:
            data = converted_json(data, conversion)
        return Response({"id": statement.pk, **data})


@extend_schema_view(
    list=extend_schema(summary="Rate plans with their rates (staff)"),
    retrieve=extend_schema(summary="One rate plan (staff)"),
    create=extend_schema(summary="Create a rate plan with its rates (staff)"),
    update=extend_schema(summary="Replace a rate plan and its rates (staff)"),
    partial_update=extend_schema(summary="Change a rate plan; rates, when given, replace the plan's rates (staff)"),
    destroy=extend_schema(summary="Delete a rate plan no project uses (staff)"),
)
class RatePlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, mixins.DestroyModelMixin, GlasspaneViewSet):
    serializer_class = s.RatePlanSerializer
    permission_classes = [*BASE_PERMISSIONS, IsStaff]
    queryset = RatePlan.objects.prefetch_related("rates__account").order_by("name")

    def perform_destroy(self, plan):
        try:
            plan.delete()
        except ProtectedError:
            raise ValidationError({"detail": ["the plan is assigned to projects; end those assignments first"]}) from None


# -- budget alerts and report subscriptions -------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Report subscriptions of the projects you administer (staff: all)"),
    retrieve=extend_schema(summary="One report subscription"),
    create=extend_schema(summary="Subscribe addresses to a weekly or monthly report (project admins; "
                                 "every project: staff)"),
    update=extend_schema(summary="Replace a report subscription"),
    partial_update=extend_schema(summary="Change a report subscription"),
    destroy=extend_schema(summary="Remove a report subscription"),
)
class ReportSubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                                mixins.UpdateModelMixin, mixins.DestroyModelMixin, GlasspaneViewSet):
    serializer_class = s.ReportSubscriptionSerializer

    def get_queryset(self):
        return notify_access.manageable_subscriptions(self.request.user).order_by("pk")

    def perform_create(self, serializer):
        project = serializer.validated_data.get("project")
        if not notify_access.may_manage(self.request.user, project):
            raise PermissionDenied("Only staff may subscribe to reports of every project.")
        serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        project = serializer.validated_data.get("project", serializer.instance.project)
        if not notify_access.may_manage(self.request.user, project):
            raise PermissionDenied("Only staff may subscribe to reports of every project.")
        serializer.save()


@extend_schema_view(
    list=extend_schema(summary="Budget thresholds fired in the projects you can see"),
    retrieve=extend_schema(summary="One fired budget threshold with the numbers that fired it"),
)
class BudgetAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GlasspaneViewSet):
    serializer_class = s.BudgetAlertSerializer

    def get_queryset(self):
        qs = BudgetAlert.objects.select_related("project").order_by("-fired_at", "-pk")
        return access.scope(qs, self.request.user)


class CostByLabelView(StrictQueryParams, APIView):
    """Usage and cost of the projects you can see, grouped by one label key or two nested."""

    permission_classes = BASE_PERMISSIONS
    query_params = {None: ("key", "key2", "start", "end", "tz")}

    @extend_schema(summary="Usage and cost grouped by a label key (or two); unlabelled and fixed costs apart",
                   parameters=[s.LabelQuerySerializer], responses={200: s.LabelReportSerializer})
    def get(self, request):
        query = s.LabelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["range"]
        keys = [query.validated_data["key"], query.validated_data.get("key2", "")]
        try:
            report = cost_by_label(keys, start, end, projects=access.visible_projects(request.user))
        except LabelReportError as exc:
            raise ValidationError({"key": [str(exc)]}) from None
        return Response(s.LabelReportSerializer(report).data)


class RecommendationsView(StrictQueryParams, APIView):
    """Idle, oversized and long-stopped VMs and containers of the projects you can see."""

    permission_classes = BASE_PERMISSIONS
    query_params = {None: ("project", "window")}

    @extend_schema(summary="Rightsizing and idle recommendations with evidence and monthly savings",
                   parameters=[s.RecommendationQuerySerializer], responses={200: s.RecommendationSerializer(many=True)})
    def get(self, request):
        query = s.RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        projects = access.visible_projects(request.user)
        if query.validated_data.get("project"):
            projects = projects.filter(slug=query.validated_data["project"])
            if not projects.exists():
                raise ValidationError({"project": ["no such project among those you can see"]})
        recs = recommendations_module.recommend(list(projects), window_days=int(query.validated_data["window"]))
        return Response(s.RecommendationSerializer(recs, many=True).data)


class RecommendationDecisionView(APIView):
    """Dismiss a recommendation for good, or snooze it until a date (members and admins; audited)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(summary="Dismiss or snooze one recommendation", request=s.RecommendationDecisionSerializer,
                   responses={201: s.RecommendationDecisionSerializer})
    def post(self, request):
        body = s.RecommendationDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        resource = access.scope(Resource.objects.filter(project__isnull=False), request.user).filter(
            pk=data["resource"]).select_related("project").first()
        if resource is None:
            raise ValidationError({"resource": ["no such resource in a project you can see"]})
        if not access.has_role(request.user, resource.project, Role.MEMBER):
            raise PermissionDenied("Members and admins of the project decide on its recommendations.")
        try:
            decision = recommendations_module.decide(resource, data["kind"], data["action"], user=request.user,
                                                     until=data.get("until"), note=data.get("note", ""))
        except ValueError as exc:
            raise ValidationError({"until": [str(exc)]}) from None
        return Response({**body.data, "id": decision.pk, "at": decision.at}, status=status.HTTP_201_CREATED)


@csrf_exempt  # it changes nothing; a CSRF refusal here would be an HTML 403 instead of the JSON 404
def api_not_found(request, *args, **kwargs):
    """A JSON 404 for any path under /api/ that matches no route (Django's would be HTML)."""
    return JsonResponse({"detail": "Not found."}, status=404)
