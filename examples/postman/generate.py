"""Write the Postman collection (v2.1) of Harmoniq's HTTP API from the services' own OpenAPI.

    .venv/bin/python examples/postman/generate.py          rewrite harmoniq.postman_collection.json
    .venv/bin/python examples/postman/generate.py --check  exit 1 when the committed one is stale

The documents are built in-process by ``deploy/openapi_dump.py`` (as the web client's API
types are), so the collection follows the code: ``tests/deploy/test_postman.py`` fails when it
is stale or not a valid collection. One folder per service, one request per operation, with
its path variables, query parameters, and a JSON body holding the request schema's required
fields. Authenticated operations use the collection's bearer auth (``{{token}}``: a user's
access token; for a bot, set the request's auth to an ``Authorization: Bot {{botToken}}``
header); the token routes of webhooks need none.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

import openapi_dump  # noqa: E402 - deploy/ is not a package

OUTPUT = Path(__file__).resolve().parent / "harmoniq.postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "post", "put", "patch", "delete")

__all__ = ["OUTPUT", "SCHEMA", "collection", "main", "render"]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


_SCALARS: dict[str, Any] = {"array": [], "boolean": False, "string": "string"}


def _given(schema: dict[str, Any]) -> tuple[bool, Any]:
    """The value the schema itself gives (an example, default, enum or const), if any."""
    if schema.get("examples"):
        return True, schema["examples"][0]
    for key in ("default", "const"):
        if key in schema:
            return True, schema[key]
    if "enum" in schema:
        return True, schema["enum"][0]
    return False, None


def _example(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A value of the schema: its example or default, else its required fields filled in."""
    schema = _resolve(document, schema)
    found, value = _given(schema)
    if found:
        return value
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(document, o).get("type") != "null"]
            return _example(document, options[0], depth) if options else None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = schema.get("required", []) if depth <= 4 else []
        return {
            name: _example(document, properties[name], depth + 1)
            for name in required
            if name in properties
        }
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    return _SCALARS.get(str(kind))


def _item(document: dict[str, Any], path: str, method: str, operation: dict[str, Any]) -> Any:
    segments = [
        f":{s[1:-1]}" if s.startswith("{") and s.endswith("}") else s
        for s in path.strip("/").split("/")
    ]
    parameters = operation.get("parameters", [])
    query = [
        {
            "key": p["name"],
            "value": "",
            "description": p.get("description", ""),
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p["in"] == "query"
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}/" + "/".join(segments),
        "host": ["{{baseUrl}}"],
        "path": segments,
        "variable": [
            {"key": p["name"], "value": "", "description": p.get("description", "")}
            for p in parameters
            if p["in"] == "path"
        ],
    }
    if query:
        url["query"] = query
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [],
        "url": url,
        "description": operation.get("description") or operation.get("summary", ""),
    }
    if "security" not in operation:
        request["auth"] = {"type": "noauth"}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = _example(document, content["application/json"].get("schema", {}))
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(body, indent=2, sort_keys=True),
            "options": {"raw": {"language": "json"}},
        }
    elif "multipart/form-data" in content:
        request["body"] = {"mode": "formdata", "formdata": []}
    return {"name": operation.get("summary") or operation["operationId"], "request": request}


def collection(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    folders = []
    for service, document in sorted(documents.items()):
        items = [
            _item(document, path, method, document["paths"][path][method])
            for path in sorted(document["paths"])
            for method in METHODS
            if method in document["paths"][path]
        ]
        folders.append({"name": service, "item": items})
    return {
        "info": {
            "_postman_id": "6f1c2d0e-4b7a-4c1e-9a55-0c6172006d71",
            "name": "Harmoniq",
            "description": "Harmoniq's HTTP API, generated from the services' OpenAPI by"
            " examples/postman/generate.py. Set baseUrl (e.g. http://127.0.0.1:8080 under"
            " `make dev`) and token (an access token from POST /api/v1/auth/login).",
            "schema": SCHEMA,
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}],
        },
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8080"},
            {"key": "token", "value": ""},
            {"key": "botToken", "value": ""},
        ],
        "item": folders,
    }


def render() -> str:
    return json.dumps(collection(openapi_dump.documents()), indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run examples/postman/generate.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
