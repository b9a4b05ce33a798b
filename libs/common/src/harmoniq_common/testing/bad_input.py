"""Requests that break the input policy (``harmoniq_common.validation``), for every operation
a service's OpenAPI schema lists: each must be refused with a 400 (415 for a body that is not
JSON) naming the field, before any work. Built from the schema, so a new route, query
parameter or body field is probed without anyone adding a case for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from litestar.testing import AsyncTestClient

__all__ = ["Probe", "probes", "refusal_mismatches"]

_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
NUL = "a\x00b"


@dataclass(frozen=True)
class Probe:
    what: str
    method: str
    url: str
    status: int
    field_name: str | None  # the field the answer must name (None: any, or none)
    request: dict[str, Any] = field(default_factory=dict)


def _fill(path: str, broken: str | None = None) -> str:
    """The path with every parameter "1" (or "1%00" for ``broken``)."""
    return _PARAMETER.sub(lambda m: "1%00" if m.group(1) == broken else "1", path)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def _body_fields(schema: dict[str, Any], body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field path, a JSON body with NUL in that field) for each top-level field."""
    body = _resolve(schema, body)
    if body.get("type") == "array":
        item = _resolve(schema, body["items"])
        return [(f"[0].{name}", [{name: NUL}]) for name in item.get("properties", {})]
    return [(name, {name: NUL}) for name in body.get("properties", {})]


def probes(schema: dict[str, Any]) -> list[Probe]:
    found: list[Probe] = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            method = method.upper()
            url = _fill(path)
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if parameter["in"] == "query":
                    found.append(Probe(f"NUL in ?{name}", method, f"{url}?{name}=a%00b", 400, name))
                elif parameter["in"] == "path":
                    found.append(Probe(f"NUL in {{{name}}}", method, _fill(path, name), 400, name))
            found.append(
                Probe("control character in a header", method, url, 400, "X-Probe",
                      {"headers": {"X-Probe": "a\x01b"}})
            )  # fmt: skip
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            for name, body in _body_fields(schema, content["application/json"]["schema"]):
                found.append(Probe(f"NUL in body {name}", method, url, 400, name, {"json": body}))
            json_type = {"content-type": "application/json"}
            found += [
                Probe("invalid UTF-8", method, url, 400, None,
                      {"content": b'{"a": "\xff\xfe"}', "headers": json_type}),
                Probe("JSON 10,000 levels deep", method, url, 400, None,
                      {"content": b"[" * 10_000 + b"]" * 10_000, "headers": json_type}),
                Probe("a body that is not JSON", method, url, 415, None,
                      {"content": b"{}", "headers": {"content-type": "text/plain"}}),
            ]  # fmt: skip
    return found


async def refusal_mismatches(
    client: AsyncTestClient[Any], schema: dict[str, Any], headers: dict[str, str]
) -> list[str]:
    """Every probe sent with the caller's ``headers``; what did not answer as the policy says."""
    mismatches = []
    for probe in probes(schema):
        request = dict(probe.request)
        request["headers"] = {**headers, **request.get("headers", {})}
        response = await client.request(probe.method, probe.url, **request)
        body = response.json() if response.headers.get("content-type") == "application/json" else {}
        named = [error["field"] for error in body.get("errors", [])]
        if response.status_code != probe.status or (
            probe.field_name is not None and named[:1] != [probe.field_name]
        ):
            mismatches.append(
                f"{probe.method} {probe.url} ({probe.what}): {response.status_code} {response.text}"
            )
    return mismatches
