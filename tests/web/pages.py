"""A person using the signed-in pages through the TestClient: signs in with the sign-in form,
reads pages, and sends a page's form with the hidden fields the page gave it (the CSRF token,
the form's idempotency key) — as a browser does, without JavaScript."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.registry.user_fixtures import PASSWORD
from tests.web.conftest import HTML, Web

__all__ = ["Person", "form_fields"]


def form_fields(page: str, action: str) -> dict[str, str]:
    """What the (first) form of ``page`` that posts to ``action`` sends untouched: its hidden
    fields and each list's first choice."""
    found = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert found, f"no form posting to {action}"
    body = found.group(1)
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)
    }
    for name, value in re.findall(r'<select name="([^"]+)"[^>]*>\s*<option value="([^"]*)"', body):
        fields[html.unescape(name)] = html.unescape(value)
    return fields


class Person:
    """One browser (its own cookies) signed in as ``user``."""

    def __init__(self, web: Web, user: str, password: str = PASSWORD) -> None:
        self.client = TestClient(web.client.app, raise_server_exceptions=False)
        self.user = user
        login = self.get("/login")
        assert login.status_code == 200, login.text
        fields = form_fields(login.text, "/login")
        r = self.client.post("/login", data={**fields, "username": user, "password": password},
                             headers=HTML, follow_redirects=False)  # fmt: skip
        assert r.status_code == 303, (user, r.status_code, r.text[:500])

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=HTML, follow_redirects=False)

    def send(self, page: str, action: str, files: Any = None, **values: str) -> Any:
        """Send the form of page ``page`` that posts to ``action`` with ``values`` filled in."""
        shown = self.get(page)
        assert shown.status_code == 200, (page, shown.status_code, shown.text[:500])
        data = {**form_fields(shown.text, action), **values}
        return self.client.post(action, data=data, files=files, headers=HTML,
                                follow_redirects=False)  # fmt: skip
