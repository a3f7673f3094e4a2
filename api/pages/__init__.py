"""The web pages (server-rendered HTML, zh-CN first with an English switch): the public
project library, project pages, the county map, the public ledger and certificates, and the
signed-in pages of each role. Every page reads through the registry's services (``registry``),
as the API does."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import account, auth, library, staff

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (library, auth, account, staff):
    router.include_router(_module.router)
