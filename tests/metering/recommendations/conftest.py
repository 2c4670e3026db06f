"""The chargeback tests' ledger (the real collector with a fake clock) for recommendations."""

from tests.metering.chargeback.conftest import ledger  # noqa: F401 - fixture
