"""Settings validation of the driver contract."""

import pytest

from devsim.fake import FakeDriver
from providers.base import SettingsError


def test_validate_cleans_and_reports_every_bad_field():
    settings, creds = FakeDriver.validate({"world": "w"}, {"token": "x"})
    assert settings == {"world": "w"} and creds == {"token": "x"}
    with pytest.raises(SettingsError) as err:
        FakeDriver.validate({"colour": "blue"}, {"nope": "1"})
    assert set(err.value.errors) == {"colour", "world", "nope"}
    assert err.value.errors["world"] == "is required"
    assert "unknown setting" in err.value.errors["colour"]
