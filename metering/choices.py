"""Choice sets shared by models, forms, filters and the API."""

from django.db import models

from providers.base import Kind, State


class ResourceKind(models.TextChoices):
    HOST = Kind.HOST, "Host"
    VM = Kind.VM, "VM"
    CONTAINER = Kind.CONTAINER, "Container"
    VOLUME = Kind.VOLUME, "Volume"


class ResourceState(models.TextChoices):
    RUNNING = State.RUNNING, "Running"
    PAUSED = State.PAUSED, "Paused"
    SUSPENDED = State.SUSPENDED, "Suspended"
    STOPPED = State.STOPPED, "Stopped"
    CRASHED = State.CRASHED, "Crashed"
    BUILDING = State.BUILDING, "Building"
    ERROR = State.ERROR, "Error"
    AVAILABLE = State.AVAILABLE, "Available"
    IN_USE = State.IN_USE, "In use"
    UNKNOWN = State.UNKNOWN, "Unknown"
    DELETED = State.DELETED, "Deleted"


class AccountHealth(models.TextChoices):
    """An account's health as the last refresh left it (``CollectionState.health``)."""

    UNKNOWN = "unknown", "Unknown"
    OK = "ok", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Project admin"


class BillingMode(models.TextChoices):
    BILLED = "billed", "Billed (chargeback)"
    SHOWBACK = "showback", "Showback (quantities only)"


class BreachPolicy(models.TextChoices):
    ALERT = "alert", "Alert"
    BLOCK_NEW = "block-new", "Block new requests"
    STOP_NEWEST = "stop-newest", "Stop newest resources"


class QuotaKey(models.TextChoices):
    VMS = "vms", "VMs"
    CONTAINERS = "containers", "Containers"
    VCPUS = "vcpus", "vCPUs"
    RAM_MB = "ram_mb", "RAM (MB)"
    DISK_GB = "disk_gb", "Disk (GB)"
    VOLUMES = "volumes", "Volumes"
    BUDGET = "budget", "Monthly budget"


class ChangeSource(models.TextChoices):
    ADMIN = "admin", "Django admin"
    PORTAL = "portal", "Portal"
    API = "api", "API"
    CLI = "cli", "Command line"
    SYSTEM = "system", "System"
    PUSH = "push", "Push-down to a provider"


class PushOutcome(models.TextChoices):
    """How a push-down of a limit to a provider ended (audit rows of source ``push``)."""

    APPLIED = "applied", "Applied"
    FAILED = "failed", "Not applied"


class MappingSource(models.TextChoices):
    HINT = "hint", "Provider's project reference (Keystone id, libvirt metadata, Docker project label)"
    LABEL = "label", "Label key = value"
    NAME = "name", "Name pattern (regular expression)"


class Measure(models.TextChoices):
    """Every measure of the usage report; rate plans price these."""

    INSTANCE_HOURS = "instance_hours", "Instance-hours"
    CONTAINER_HOURS = "container_hours", "Container-hours"
    VCPU_HOURS = "vcpu_hours", "vCPU-hours"
    RAM_GB_HOURS = "ram_gb_hours", "RAM GiB-hours"
    DISK_GB_HOURS = "disk_gb_hours", "Disk GiB-hours"
    RUNNING_HOURS = "running_hours", "Running hours"
    CPU_CORE_HOURS_USED = "cpu_core_hours_used", "CPU core-hours used"
    MEMORY_GB_HOURS_USED = "memory_gb_hours_used", "Memory GiB-hours used"
    NET_GB = "net_gb", "Network GiB transferred"
    DISK_IO_GB = "disk_io_gb", "Disk GiB transferred"
    ESTIMATED_HOURS = "estimated_hours", "Estimated hours"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    OK = "ok", "Succeeded"
    PARTIAL = "partial", "Succeeded with data issues"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (another refresh was running)"


class RequestState(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONING = "provisioning", "Provisioning"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused by quota"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
