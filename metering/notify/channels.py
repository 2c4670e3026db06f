"""Delivery: email through Django's backend, and signed webhooks.

A signed webhook is a JSON POST whose ``X-Glasspane-Signature`` header is
``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` under the receiver's secret, with the
timestamp in ``X-Glasspane-Timestamp`` (Unix seconds), so a receiver can check both that the body
is ours and that it is fresh. Redirects are never followed (a redirect is a failure: the receiver
must give its final URL), every call times out within ``WEBHOOK_TIMEOUT`` seconds, and a non-2xx
answer raises so that the Celery task retries with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable

import requests
from django.conf import settings
from django.core.mail import EmailMessage

WEBHOOK_TIMEOUT = (3.05, 10)  # connect, read (seconds)
SIGNATURE_HEADER = "X-Glasspane-Signature"
TIMESTAMP_HEADER = "X-Glasspane-Timestamp"


class DeliveryError(Exception):
    """A webhook answered something other than 2xx (or redirected); worth retrying."""


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
    """POST ``payload`` as JSON, signed with ``secret``; the HTTP status, or ``DeliveryError``."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Glasspane", "X-Glasspane-Event": event,
               TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT, allow_redirects=False)
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")
    return response.status_code


def send_email(subject: str, body: str, to: Iterable[str], attachments: Iterable[tuple[str, bytes, str]] = ()) -> int:
    """One message to every address in ``to``; how many were sent (0 or 1)."""
    to = sorted(set(to))
    if not to:
        return 0
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    for name, content, mimetype in attachments:
        message.attach(name, content, mimetype)
    return message.send(fail_silently=False)
