"""The web pages (server-rendered HTML, zh-CN first with an English switch): the public
project library, project pages, the county map, the public ledger and certificates, and the
signed-in pages of each role. Every page reads through the registry's services (``registry``),
as the API does."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import library

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (library,):
    router.include_router(_module.router)

# the signed-in pages: signing in and out, the account page and the forms of each role
from api.pages import account, auth, staff  # noqa: E402

for _module in (auth, account, staff):
    router.include_router(_module.router)
