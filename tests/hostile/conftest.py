"""The hostile-input and fault suites reuse the API tests' seeded two-project world."""

from tests.portal.api.conftest import _fresh_cache, api_world, eager_tasks  # noqa: F401
