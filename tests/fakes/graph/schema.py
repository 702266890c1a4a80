"""The Graph schema subset in ``tests/data/graph/``: an OpenAPI validator stricter than the document (like Graph)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "data" / "graph" / "graph-calendar-subset.json"
_PROP_ID_RE = re.compile(
    r"^String \{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\} Name \S+$"
)


class SchemaValidator:
    """Validates JSON against the OpenAPI subset: $ref, allOf, type, enum, pattern, nullable, bounds.

    Stricter than the schema's ``additionalProperties``: like Graph, an unknown
    property is an error (``@odata.*`` annotations aside).
    """

    def __init__(self, path: Path = SCHEMA_PATH) -> None:
        self.doc = json.loads(path.read_text("utf-8"))
        self.schemas: dict[str, Any] = self.doc["components"]["schemas"]

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[str(schema["$ref"]).rsplit("/", 1)[-1]]
        return schema

    def _properties(self, schema: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        schema = self._resolve(schema)
        props: dict[str, Any] = {}
        title = str(schema.get("title", ""))
        for part in schema.get("allOf", []):
            p, t = self._properties(part)
            props.update(p)
            title = t or title
        props.update(schema.get("properties", {}))
        return props, title

    def validate(self, value: Any, type_name: str) -> list[str]:
        return self._check(value, {"$ref": f"#/components/schemas/{type_name}"}, "")

    def _check(self, value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
        schema = self._resolve(schema)
        where = path or "body"
        if value is None:
            return [] if schema.get("nullable") or "allOf" in schema or "type" not in schema else [f"{where}: null"]
        if "anyOf" in schema or "oneOf" in schema:
            options = schema.get("anyOf") or schema.get("oneOf") or []
            results = [self._check(value, o, path) for o in options]
            return [] if any(not r for r in results) else results[0]
        if "allOf" in schema or schema.get("type") == "object" or "properties" in schema:
            if not isinstance(value, dict):
                return [f"{where}: expected an object"]
            props, title = self._properties(schema)
            errors: list[str] = []
            for key, item in value.items():
                if key.startswith("@odata."):
                    continue
                if key not in props:
                    errors.append(f"{where}: property '{key}' does not exist on type 'microsoft.graph.{title}'")
                    continue
                errors += self._check(item, props[key], f"{path}.{key}" if path else key)
            return errors
        typ = schema.get("type")
        if typ == "array":
            if not isinstance(value, list):
                return [f"{where}: expected an array"]
            out: list[str] = []
            for i, item in enumerate(value):
                out += self._check(item, schema.get("items", {}), f"{where}[{i}]")
            return out
        if typ == "string":
            if not isinstance(value, str):
                return [f"{where}: expected a string"]
            if "enum" in schema and value not in schema["enum"]:
                return [f"{where}: {value!r} is not one of {schema['enum']}"]
            if "pattern" in schema and not re.search(schema["pattern"], value):
                return [f"{where}: {value!r} does not match the pattern"]
            return []
        if typ == "boolean":
            return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
        if typ in ("integer", "number"):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (typ == "integer" and isinstance(value, float))
            ):
                return [f"{where}: expected {typ}"]
            lo, hi = schema.get("minimum"), schema.get("maximum")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                return [f"{where}: {value} out of range"]
            return []
        if "enum" in schema:
            return [] if value in schema["enum"] else [f"{where}: {value!r} is not one of {schema['enum']}"]
        return []


_VALIDATOR: SchemaValidator | None = None


def validator() -> SchemaValidator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = SchemaValidator()
    return _VALIDATOR
