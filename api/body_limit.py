"""The largest request body the server reads: an upload's own checks (registry.uploads) run
only once the framework has received the whole file — spooled to a temporary file — so the
body is bounded before that, for every route, present or future.

A body longer than the limit is refused with 413 and the registry's bilingual error (a page for
a browser, JSON otherwise) as soon as its ``Content-Length`` says so, or as soon as the bytes
received pass the limit (a body sent in chunks): nothing beyond the limit is read or written."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.settings import Settings

__all__ = ["MULTIPART_SLACK", "BodyLimit", "BodyTooLarge", "request_body_limit"]

MULTIPART_SLACK = 1 << 20  # room for an upload's form fields and multipart framing (bytes)


def request_body_limit(settings: Settings) -> int:
    """The largest request body, in bytes: the largest upload (``upload_max_mb``) and room for
    its form fields."""
    return int(settings.upload_max_mb * (1 << 20)) + MULTIPART_SLACK


class BodyTooLarge(HTTPException):
    """A request body over the limit (the app's handlers answer it, 413)."""

    def __init__(self, limit: int) -> None:
        mib = limit / (1 << 20)
        super().__init__(413, f"the request body is larger than the limit of {mib:.1f} MiB.")


class BodyLimit:
    """ASGI middleware: refuse a request body longer than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_long = declared.isdigit() and int(declared) > self.max_bytes
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if too_long:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)
