"""Signed tokens of public forms (the grievance form): anyone may send one without signing in,
so the session's CSRF token cannot protect it. The page embeds ``<issued at>.<HMAC>`` — the
HMAC-SHA256, under the registry's secret key, of the form's purpose, its subject (the project
code) and the time the page was made; the submission is accepted only with a token this
registry made for the same form and subject, not older than :data:`MAX_AGE_S`. A form posted
from another site or replayed days later is refused."""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["MAX_AGE_S", "check_form_token", "form_token"]

MAX_AGE_S = 12 * 3600
"""A public form stays valid this long after its page was made (s)."""


def _mac(secret: bytes, purpose: str, subject: str, issued: int) -> str:
    message = f"{purpose}\n{subject}\n{issued}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def form_token(secret: bytes, purpose: str, subject: str, now: float | None = None) -> str:
    """A token for the form ``purpose`` about ``subject``, made at ``now`` (Unix time, s)."""
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(secret, purpose, subject, issued)}"


def check_form_token(
    secret: bytes, purpose: str, subject: str, token: str | None, now: float | None = None
) -> bool:
    """Whether ``token`` was made by :func:`form_token` for this form and subject, at most
    :data:`MAX_AGE_S` ago (and not in the future)."""
    issued_text, _, mac = (token or "").partition(".")
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12 or not mac:
        return False
    issued = int(issued_text)
    age = (time.time() if now is None else now) - issued
    if not -60 <= age <= MAX_AGE_S:  # a minute of clock skew between workers
        return False
    return hmac.compare_digest(mac, _mac(secret, purpose, subject, issued))
