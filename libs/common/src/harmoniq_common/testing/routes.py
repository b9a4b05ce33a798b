"""Checks over every route of a service: a new route that forgets a pattern fails its suite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.testing import AsyncTestClient

__all__ = ["id_parameter_problems"]


def _schema_patterns(schema: Mapping[str, Any]) -> set[str]:
    """The patterns a parameter's schema allows (through ``oneOf`` for optional ones)."""
    patterns = {schema["pattern"]} if "pattern" in schema else set()
    for option in schema.get("oneOf", ()):
        patterns |= _schema_patterns(option)
    return patterns


async def id_parameter_problems(
    client: AsyncTestClient[Any], headers: Mapping[str, str]
) -> list[str]:
    """What is wrong with the app's ``*_id`` path and query parameters, one line each.

    Each must be typed (OpenAPI shows a string of digits, not ``{}`` or any string), and a
    request with ``x`` in it, everything else well formed, must be a 400 in the one error
    body whose ``errors`` name it. ``headers`` authenticate the requests.
    """
    problems: list[str] = []
    schema = client.app.openapi_schema.to_schema()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            parameters = [
                p for p in operation.get("parameters", ()) if p["in"] in ("path", "query")
            ]
            path_values = {p["name"]: "1" for p in parameters if p["in"] == "path"}
            for parameter in parameters:
                name = parameter["name"]
                if not name.endswith("_id"):
                    continue
                where = f"{method.upper()} {path} {parameter['in']} {name}"
                if not any("[0-9]" in p for p in _schema_patterns(parameter["schema"])):
                    problems.append(f"{where}: not typed as an id ({parameter['schema']})")
                    continue
                values = {**path_values, name: "x"} if parameter["in"] == "path" else path_values
                url = path.format(**values)
                query = {name: "x"} if parameter["in"] == "query" else {}
                response = await client.request(method, url, params=query, headers=headers)
                body = response.json() if response.content else {}
                fields = [e.get("field") for e in body.get("errors", [])]
                if response.status_code != 400 or body.get("code") != "invalid_request":
                    problems.append(f"{where}: {response.status_code} {response.text[:100]}")
                elif name not in fields:
                    problems.append(f"{where}: the 400 names {fields}, not {name}")
    return problems
