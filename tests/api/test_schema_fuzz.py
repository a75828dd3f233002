"""schemathesis against the live OpenAPI schema with every check (``--checks all``), on SQLite and PostgreSQL.

schemathesis's own engine (its Python API, as ``schemathesis run`` uses it) runs every phase: the schema's
examples, coverage (boundary and invalid values of every parameter), fuzzing (schema-valid and
schema-violating requests) and stateful chains through the schema's links (create → read → delete). Every
answer must be documented (status code, content type, body schema, headers); invalid input must be refused
with a 4xx; a created object must be readable and a deleted one gone; a request without a valid key must be
refused; never a 5xx.

One exception, named per operation: some bodies carry rules JSON Schema cannot state (a window must end after
it starts, a vehicle names a stored type, a path id must equal the body's id, a file must be a CSV of sites …).
For those, a schema-valid request may still be refused (``positive_data_acceptance`` is off for them); the
refusal must still be a documented 422 whose ``detail`` names the field (every other check applies).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis (test extra) not installed")

EXAMPLES = 8  # per operation and phase: both databases together take a few minutes

RULES_BEYOND_THE_SCHEMA = {
    "POST /plans": "a scenario, or a date to plan the stored catalogue; records reference each other",
    "POST /audits": "the period must end after it starts",
    "GET /alarms/kpis": "until must be after since",
    "POST /terminals/{phone}/commands": "text must have a GBK encoding and fit one frame; a route must fit one frame",
    "POST /permits": "valid_until after valid_from; polygons must be usable geometry",
    "POST /zones": "polygons must be usable geometry",
    "POST /keys": "a device key names terminals, other keys none",
    "POST /sites": "windows end after they start",
    "PUT /sites/{item_id}": "windows end after they start; the body's id is the path's",
    "POST /facilities": "opening hours end after they start",
    "PUT /facilities/{item_id}": "opening hours end after they start; the body's id is the path's",
    "POST /vehicles": "the shift ends after it starts",
    "PUT /vehicles/{item_id}": "the shift ends after it starts; the body's id is the path's",
    "PUT /depots/{item_id}": "the body's id is the path's",
    "PUT /vehicle-types/{item_id}": "the body's id is the path's",
    "POST /sites/import": "the file must be a sites CSV or GeoJSON",
    "POST /vehicles/import": "the file must be a vehicles CSV or GeoJSON",
    "POST /vehicle-types/import": "the file must be a vehicle-types CSV or GeoJSON",
    "POST /depots/import": "the file must be a depots CSV or GeoJSON",
    "POST /facilities/import": "the file must be a facilities CSV or GeoJSON",
    "POST /stations/plans": "the files must be communities and candidates CSVs",
    "POST /plans/{plan_id}/replan": "the plan must be solved; events name its trucks and sites, times inside the day",
    "POST /sweeping/plans": "a sweep scenario: an area with streets of its classes, places near a road",
    "POST /sweeping/audits": "the plan must exist; the period must end after it starts",
}
EVERY_CHECK = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(request, tmp_path_factory):
    """A service of its own (the generated data must not leak into the other tests' databases).

    Its wrong-key limit is raised: the ignored-auth check sends thousands of wrong keys on purpose.
    """
    from api.auth import ANY_TERMINAL, ROLES, create_key
    from api.db import engine_for
    from tests.api.conftest import running_service

    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with running_service(request.param, folder, QINGYUN_AUTH_FAILURES_MAX="1000000") as service:
        engine = engine_for(service.database_url)
        key = create_key(engine, roles=list(ROLES), name="schemathesis", terminals=[ANY_TERMINAL]).key
        yield service, key


def _config(key: str):
    """``schemathesis run --checks all`` with every phase, a key holding every role, bounded examples."""
    from schemathesis.config import SchemathesisConfig

    streams = '[[operations]]\ninclude-path-regex = "/stream$"\nenabled = false\n'  # server-sent events never end
    exceptions = streams + "\n".join(
        f"[[operations]]\ninclude-name = {json.dumps(label)}\nchecks.positive_data_acceptance.enabled = false\n"
        for label in RULES_BEYOND_THE_SCHEMA
    )
    return SchemathesisConfig.from_str(
        f"""
[headers]
X-API-Key = {json.dumps(key)}

[checks]
enabled = true

[generation]
max-examples = {EXAMPLES}
deterministic = true

[phases]
examples.enabled = true
coverage.enabled = true
fuzzing.enabled = true
stateful.enabled = true

{exceptions}"""
    )


def test_every_check_passes_on_every_operation_in_every_phase(fuzzed):
    from schemathesis.engine import Status, events, from_schema

    service, every_role_key = fuzzed
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", config=_config(every_role_key))
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert len(labels) >= 60 and set(RULES_BEYOND_THE_SCHEMA) <= labels

    ran: Counter[str] = Counter()
    tested: set[str] = set()
    failures: dict[tuple[str, str], str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.status != Status.SKIP and event.recorder.label in labels:
                tested.add(event.recorder.label)
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    ran[node.name] += 1
                    if node.failure_info is not None:
                        failures.setdefault((event.recorder.label, node.name), str(node.failure_info.failure))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.setdefault(("(run)", type(event).__name__), str(getattr(event, "info", event)))
    report = "\n\n".join(f"{label} — {check}:\n{text[:1500]}" for (label, check), text in failures.items())
    assert not failures, f"{len(failures)} distinct failure(s):\n{report}"
    assert EVERY_CHECK <= set(ran), f"checks that never ran: {EVERY_CHECK - set(ran)}"
    assert len(tested) >= len(labels) - 2, f"untested: {sorted(labels - tested)}"
