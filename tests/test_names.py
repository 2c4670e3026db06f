"""Names that say one thing each: every class or function named ``Health``, ``UtilizationSample``,
``TokenScope`` or ``refresh`` is defined in exactly one module of the product."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("providers", "metering", "portal")
ONE_MEANING = {
    "Health": "providers.base",  # a driver's health check; an account's state is AccountHealth
    "UtilizationSample": "providers.base",  # what a driver reports; the stored row is RawSample
    "TokenScope": "portal.models",  # a token's scope; the API permission is TokenScopePermission
    "refresh": "metering.collector",  # refreshing an account; the driver registry has reload()
}


def _definitions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" in info.name or info.name.startswith("portal.settings"):
                continue
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if name in ONE_MEANING and (inspect.isclass(obj) or inspect.isfunction(obj)) \
                        and obj.__module__ == module.__name__:
                    found.setdefault(name, set()).add(module.__name__)
    return found


@pytest.mark.django_db
def test_each_name_is_defined_once():
    assert _definitions() == {name: {module} for name, module in ONE_MEANING.items()}
