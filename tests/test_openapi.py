"""The OpenAPI document is the contract: every /api/v1 route is in it, and everything in it exists."""

import re

from dashboard.api.openapi import DOCUMENT

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        found.update((path, method.lower()) for method in rule.methods - IGNORED_METHODS)
    return found


def documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_path_exists(app):
    assert routes(app) == documented()


def test_the_document_is_openapi_3_1_and_its_references_resolve():
    assert DOCUMENT["openapi"].startswith("3.1")
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOCUMENT)
    assert refs
    for ref in refs:
        node = DOCUMENT
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_every_operation_has_an_id_and_a_200(app):
    ids = [op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all("200" in op["responses"] for item in DOCUMENT["paths"].values() for op in item.values())


def test_the_document_is_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json() == DOCUMENT
