"""Credentials are encrypted at rest and survive a key rotation."""

from cryptography.fernet import Fernet

from providers import crypto
from providers.models import ProviderAccount


def test_credentials_are_not_stored_in_clear(make_account, db):
    account = make_account()
    raw = ProviderAccount.objects.values_list("credentials_encrypted", flat=True).get(pk=account.pk)
    assert "s3cret" not in raw and raw
    assert ProviderAccount.objects.get(pk=account.pk).credentials == {"token": "s3cret"}


def test_rotation_keeps_old_ciphertexts_readable(settings):
    old = Fernet.generate_key().decode()
    settings.GLASSPANE_CREDENTIAL_KEYS = [old]
    token = crypto.encrypt({"password": "pw"})
    new = Fernet.generate_key().decode()
    settings.GLASSPANE_CREDENTIAL_KEYS = [new, old]
    assert crypto.decrypt(token) == {"password": "pw"}
    rotated = crypto.rotate(token)
    settings.GLASSPANE_CREDENTIAL_KEYS = [new]
    assert crypto.decrypt(rotated) == {"password": "pw"}
