"""Delivery: email through Django's backend, and signed webhooks.

A signed webhook is a JSON POST whose ``X-Glasspane-Signature`` header is
``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` under the receiver's secret, with the
timestamp in ``X-Glasspane-Timestamp`` (Unix seconds), so a receiver can check both that the body
is ours and that it is fresh. The POST itself goes through ``metering.outbound``, the one rule for
every outbound call: no redirects (a redirect is a failure), a timeout, private and link-local
targets refused where the settings say so; ``outbound.Failed`` says whether a retry may help.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage

from metering import outbound

SIGNATURE_HEADER = "X-Glasspane-Signature"
TIMESTAMP_HEADER = "X-Glasspane-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *, max_age: int = 300) -> bool:
    """What a receiver does (and our tests do): the HMAC matches and the timestamp is recent."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= max_age
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), header)


def post_signed(url: str, payload: dict, secret: str, *, event: str) -> int:
    """POST ``payload`` as JSON, signed with ``secret``; the HTTP status, or ``outbound.Refused`` /
    ``outbound.Failed``."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Glasspane", "X-Glasspane-Event": event,
               TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return outbound.post(url, body, headers)


def send_email(subject: str, body: str, to: Iterable[str], attachments: Iterable[tuple[str, bytes, str]] = ()) -> int:
    """One message to every address in ``to``; how many were sent (0 or 1)."""
    to = sorted(set(to))
    if not to:
        return 0
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    for name, content, mimetype in attachments:
        message.attach(name, content, mimetype)
    return message.send(fail_silently=False)
