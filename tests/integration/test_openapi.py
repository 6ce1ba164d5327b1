"""/openapi.json stays true: every Flask route is in it, and a bounded schemathesis run agrees."""

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from labapp.api.openapi import document
from labapp.settings import Settings

EXAMPLES = 60  # per operation and mode at most (an operation without inputs has one case)


def test_the_served_document_carries_this_clusters_limits(cluster):
    with urllib.request.urlopen(cluster.api_url + "/openapi.json", timeout=10) as resp:
        served = json.loads(resp.read())
    assert served["openapi"].startswith("3.")
    body = served["paths"]["/longtask"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["x"]["maximum"] == cluster.settings.longtask_max_x


@pytest.fixture(scope="module")
def idle_api_url():
    """A live API on a cluster without workers: accepted tasks only queue, and cost nothing."""
    from labapp import Cluster

    with Cluster(workers=0, name="schemathesis", visibility_timeout=6, longtask_max_x=5) as cluster:
        yield cluster.api_url


# schemathesis's pytest plugin (from_fixture) does not run under pytest 9, so each operation's
# strategy is driven by Hypothesis here: valid inputs, then inputs that break the schema
def test_the_live_api_matches_its_document(idle_api_url):
    schema = schemathesis.openapi.from_url(idle_api_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {f"{m.upper()} {p}" for p, ops in document(Settings())["paths"].items() for m in ops}
    # schemathesis leaves out the document's own URL
    assert {op.label for op in operations} == documented - {"GET /openapi.json"}
    cases: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:
            if mode == GenerationMode.NEGATIVE and not len(operation.body):
                continue  # only a body can break the schema (a path segment is any string)

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case):
                cases.append(f"{mode.value} {case.method} {case.path}")  # noqa: B023  (called in this iteration)
                case.call_and_validate()  # no 5xx, documented status, JSON fitting the schema

            check()
    print(f"\nschemathesis: {len(cases)} cases")
    assert len(cases) >= 200, len(cases)
