"""schemathesis against the API's own ``/openapi.json``: generated requests for every
operation (bounded examples, a fixed seed), as the admin: no response is a 5xx, and every
refusal has the one error body."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet

from tests.api.conftest import Api

EXAMPLES = 12  # per operation


def test_no_generated_request_gets_a_server_error(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30  # every route is documented
    admin = api.auth("director")
    failures: list[str] = []
    for operation in operations:

        @seed(15)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(), key=st.text(min_size=1, max_size=8,
               alphabet="abcdefghijk0123456789"))  # fmt: skip
        def check(case: schemathesis.Case, key: str) -> None:
            headers = {**(case.headers or {}), **admin, "Idempotency-Key": key}
            body = None if isinstance(case.body, NotSet) else case.body
            r = api.client.request(case.method, case.formatted_path, params=case.query or None,
                                   json=body, headers=headers)  # fmt: skip
            if r.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {body!r}: {r.status_code} {r.text[:300]}"
                )
            elif r.status_code >= 400:
                assert set(r.json()) == {"code", "message_zh", "message_en", "details"}, r.text

        check()
    assert not failures, failures[:5]
