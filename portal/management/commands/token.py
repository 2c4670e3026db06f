"""``token create USERNAME [--scope read|write] [--expires DAYS] [--name TEXT]``, ``token list USERNAME``,
``token revoke ID``: personal access tokens for the REST API.

``create`` prints the token alone on standard output (so ``TOKEN=$(manage.py token create alice)``
works) and what it is on standard error; the token is shown only this once.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from portal.models import TOKEN_PREFIX, PersonalAccessToken, TokenScope
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Create, list or revoke personal access tokens for the REST API."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token (printed once)")
        create.add_argument("username")
        create.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ,
                            help="read: GET only (default); write: everything the user may do")
        create.add_argument("--expires", type=int, metavar="DAYS", help="days until it expires (default: never)")
        create.add_argument("--name", default="", help="what the token is for")
        lst = sub.add_parser("list", help="a user's tokens (never the secrets)")
        lst.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token by id")
        revoke.add_argument("id", type=int)

    def handle(self, *args, action, **opts):
        return getattr(self, f"_{action}")(**opts)

    def _user(self, username):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise self.usage_error(f"username {username!r}: no such user")
        return user

    def _create(self, username, scope, expires, name, **_):
        user = self._user(username)
        if expires is not None and expires < 1:
            raise self.usage_error(f"--expires {expires}: must be at least 1 day")
        if expires is not None and expires > PersonalAccessToken.MAX_EXPIRES_DAYS:
            raise self.usage_error(f"--expires {expires}: must be at most {PersonalAccessToken.MAX_EXPIRES_DAYS} days")
        if len(name) > 100:
            raise self.usage_error("--name: at most 100 characters")
        token, plain = PersonalAccessToken.issue(user, scope=scope, expires_days=expires, name=name)
        until = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        self.stderr.write(f"token {token.pk} for {user.username}: {scope} scope, {until}; it is shown only once")
        self.stdout.write(plain)

    def _list(self, username, **_):
        user = self._user(username)
        rows = [("ID", "PREFIX", "SCOPE", "STATUS", "CREATED", "EXPIRES", "LAST USED", "NAME")]
        for t in PersonalAccessToken.objects.filter(user=user).order_by("-created_at", "-id"):
            rows.append((t.pk, f"{TOKEN_PREFIX}{t.prefix}", t.scope, t.status, f"{t.created_at:%Y-%m-%d %H:%M}",
                         f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never",
                         f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never", t.name or "-"))
        if len(rows) == 1:
            self.stdout.write(f"{user.username} has no tokens")
            return
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def _revoke(self, id, **_):
        token = PersonalAccessToken.objects.select_related("user").filter(pk=id).first()
        if token is None:
            raise self.usage_error(f"id {id}: no such token")
        already = token.revoked_at is not None
        token.revoke()
        self.stdout.write(f"token {id} of {token.user.username} {'was already' if already else 'is now'} revoked")
