"""Personal access tokens: the ``token`` command, Bearer/Token authentication, read scope, expiry,
revocation, and throttling of token guessing."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import PersonalAccessToken, TokenScope, hash_token

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bearer(token, keyword="Bearer"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token}")
    return client


def test_create_prints_the_token_once_and_stores_only_its_hash(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    out, err = run("create", "alice", "--scope", "write", "--expires", "30", "--name", "ci")
    plain = out.strip()
    assert plain.startswith("gpat_") and "\n" not in plain
    token = PersonalAccessToken.objects.get(user=alice)
    assert token.scope == TokenScope.WRITE and token.name == "ci"
    assert token.token_hash == hash_token(plain) and plain not in (token.token_hash, token.prefix)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert f"token {token.pk} for alice: write scope" in err and "shown only once" in err
    assert PersonalAccessToken.find(plain) == token


def test_create_defaults_to_read_scope_without_expiry(django_user_model):
    django_user_model.objects.create_user("alice")
    run("create", "alice")
    token = PersonalAccessToken.objects.get()
    assert (token.scope, token.expires_at) == (TokenScope.READ, None)


@pytest.mark.parametrize("args,message", [
    (("create", "nobody"), "username 'nobody': no such user"),
    (("create", "alice", "--expires", "0"), "--expires 0: must be at least 1 day"),
    (("revoke", "999"), "id 999: no such token"),
    (("list", "nobody"), "username 'nobody': no such user"),
])
def test_bad_arguments_are_one_line_and_exit_2(django_user_model, args, message):
    django_user_model.objects.create_user("alice")
    with pytest.raises(CommandError) as err:
        run(*args)
    assert err.value.returncode == 2 and str(err.value) == message


def test_bad_scope_is_a_usage_error_with_exit_2(django_user_model):
    django_user_model.objects.create_user("alice")
    with pytest.raises(CommandError) as err:
        run("create", "alice", "--scope", "admin")
    assert err.value.returncode == 2 and "--scope" in str(err.value) and "invalid choice" in str(err.value)


def test_list_shows_status_and_never_the_secret_and_revoke_revokes(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    keep, keep_plain = PersonalAccessToken.issue(alice, scope=TokenScope.READ, name="reporting")
    gone, _ = PersonalAccessToken.issue(alice, scope=TokenScope.WRITE)
    out, _ = run("revoke", str(gone.pk))
    assert out.strip() == f"token {gone.pk} of alice is now revoked"
    assert run("revoke", str(gone.pk))[0].strip() == f"token {gone.pk} of alice was already revoked"
    listing, _ = run("list", "alice")
    lines = listing.strip().splitlines()
    assert lines[0].split()[:4] == ["ID", "PREFIX", "SCOPE", "STATUS"] and len(lines) == 3
    by_id = {line.split()[0]: line for line in lines[1:]}
    assert "revoked" in by_id[str(gone.pk)] and "active" in by_id[str(keep.pk)] and "reporting" in by_id[str(keep.pk)]
    assert keep_plain not in listing and keep_plain.split("_", 2)[2] not in listing


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_both_keywords_authenticate_and_last_use_is_recorded(api_world, keyword):
    token = PersonalAccessToken.find(api_world.token)
    assert token.last_used_at is None
    response = bearer(api_world.token, keyword).get("/api/v1/projects/")
    assert response.status_code == 200 and [p["slug"] for p in response.json()["results"]] == ["alpha"]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_read_scope_token_reads_but_cannot_write_even_where_its_user_may(api_world):
    read, write = bearer(api_world.token), bearer(api_world.write_token)
    body = {"project": "alpha", "user": "newbie", "role": "viewer"}
    refused = read.post("/api/v1/memberships/", body, format="json")
    assert refused.status_code == 403 and "read scope" in refused.json()["detail"]
    assert read.delete(f"/api/v1/memberships/{api_world.memberships['A'].pk}/").status_code == 403
    assert read.get("/api/v1/memberships/").status_code == 200
    # the same user with a write token may: the refusal was the scope's, not the role's
    assert write.post("/api/v1/memberships/", body, format="json").status_code == 201


def test_expired_revoked_malformed_and_unknown_tokens_are_401(api_world):
    token = PersonalAccessToken.find(api_world.token)
    wrong_secret = api_world.token[:-4] + ("AAAA" if not api_world.token.endswith("AAAA") else "BBBB")
    for bad in (wrong_secret, "gpat_nothere_x", "not-a-token", "gpat_"):
        response = bearer(bad).get("/api/v1/projects/")
        assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"', bad
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(api_world.token).get("/api/v1/projects/").status_code == 401
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=None)
    assert bearer(api_world.token).get("/api/v1/projects/").status_code == 200
    token.revoke()
    assert bearer(api_world.token).get("/api/v1/projects/").status_code == 401


def test_inactive_user_token_is_401(api_world):
    api_world.users["admin"].is_active = False
    api_world.users["admin"].save()
    assert bearer(api_world.token).get("/api/v1/projects/").status_code == 401


def test_token_guessing_locks_the_guessed_token_not_the_address(api_world, settings):
    """Issue 17 item 5: 22 bad tokens from one address used to lock out every valid token from it."""
    settings.GLASSPANE_TOKEN_MAX_FAILURES = 3
    for i in range(22):
        status = bearer(f"gpat_abcdefgh_guess{i}").get("/api/v1/projects/").status_code
        assert status == (401 if i < 3 else 429)
    locked = bearer("gpat_abcdefgh_guess99").get("/api/v1/projects/")
    assert locked.status_code == 429 and "Retry-After" in locked
    # every other credential from the same address still works
    assert bearer(api_world.token).get("/api/v1/projects/").status_code == 200
    assert bearer(api_world.write_token).get("/api/v1/projects/").status_code == 200
    # including the locked prefix's real owner when the right secret is... not reachable: the prefix stays locked
    assert bearer("gpat_zzzzzzzz_other").get("/api/v1/projects/").status_code == 401


def test_guessing_the_secret_of_a_real_token_locks_that_token(api_world, settings):
    settings.GLASSPANE_TOKEN_MAX_FAILURES = 3
    prefix = api_world.token.split("_")[1]
    for i in range(3):
        assert bearer(f"gpat_{prefix}_wrong{i}").get("/api/v1/projects/").status_code == 401
    assert bearer(f"gpat_{prefix}_wrong9").get("/api/v1/projects/").status_code == 429
    assert bearer(api_world.write_token).get("/api/v1/projects/").status_code == 200


def test_session_writes_need_the_csrf_token(api_world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(api_world.users["staff"])
    body = {"slug": "charlie", "name": "Charlie"}
    refused = client.post("/api/v1/projects/", body, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.get("/api/v1/projects/").status_code == 200  # reads need none
    client.cookies["csrftoken"] = csrf = "a" * 32  # what the login page's cookie would hold
    accepted = client.post("/api/v1/projects/", body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201
