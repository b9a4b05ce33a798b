"""examples/postman: the committed collection is what the generator makes from today's
OpenAPI (not stale), and it is a well-formed Postman v2.1 collection that covers the bot and
webhook routes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "examples" / "postman" / "generate.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("postman_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requests(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "request" in node:
        return [node]
    return [r for child in node.get("item", []) for r in _requests(child)]


def test_the_committed_collection_is_current_and_valid() -> None:
    generator = _generator()
    fresh = generator.render()
    committed = generator.OUTPUT.read_text()
    assert committed == fresh, "stale: run .venv/bin/python examples/postman/generate.py"

    collection = json.loads(committed)
    assert collection["info"]["schema"] == generator.SCHEMA
    assert collection["info"]["name"] and collection["info"]["_postman_id"]
    assert {v["key"] for v in collection["variable"]} >= {"baseUrl", "token"}
    assert collection["auth"]["type"] == "bearer"
    items = _requests(collection)
    assert len(items) > 50
    seen = set()
    for item in items:
        request = item["request"]
        assert isinstance(item["name"], str) and item["name"]
        assert request["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        url = request["url"]
        assert url["raw"] == "{{baseUrl}}/" + "/".join(url["path"])
        variables = {v["key"] for v in url["variable"]}
        assert variables == {s[1:] for s in url["path"] if s.startswith(":")}, url["raw"]
        if request.get("body", {}).get("mode") == "raw":
            json.loads(request["body"]["raw"])
        seen.add((request["method"], "/".join(url["path"])))
    for route in (
        ("POST", "api/v1/servers/:server_id/bots"),
        ("PATCH", "api/v1/servers/:server_id/bots/:bot_id"),
        ("POST", "api/v1/servers/:server_id/outgoing-webhooks"),
        ("GET", "api/v1/servers/:server_id/outgoing-webhooks/:endpoint_id/deliveries"),
        ("POST", "api/v1/webhooks/:webhook_id/:token"),
        ("POST", "api/v1/bots"),
    ):
        assert route in seen, route
    execute = next(
        i
        for i in items
        if i["request"]["url"]["raw"].endswith("/api/v1/webhooks/:webhook_id/:token")
        and i["request"]["method"] == "POST"
    )
    assert execute["request"]["auth"] == {"type": "noauth"}
