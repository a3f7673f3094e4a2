"""The web pages (server-rendered HTML, zh-CN first with an English switch): the public
project library, project pages, the county map, the public ledger and certificates, and the
signed-in pages of each role. Every page reads through the registry's services (``registry``),
as the API does."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import account, auth, certificates, data, grievances, ledger, library, project, staff
from api.pages import map as county_map

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
# public pages, then the signed-in ones (signing in and out, the account page, each role's forms)
for _module in (library, project, grievances, ledger, certificates, data, county_map, auth, account,
                staff):  # fmt: skip
    router.include_router(_module.router)
