"""The validators every dialect's schema shares."""

from __future__ import annotations

from gateway.schemas import common as schemas


def test_checked_schema_cache_is_bounded_and_skips_known_schemas(monkeypatch) -> None:
    monkeypatch.setattr(schemas, "CHECKED_SCHEMAS_MAX", 4)
    monkeypatch.setattr(schemas, "_CHECKED_SCHEMAS", schemas.OrderedDict())
    for i in range(10):
        schemas.check_tool_schema({"type": "object", "properties": {f"p{i}": {"type": "string"}}}, "tools[0]")
    assert len(schemas._CHECKED_SCHEMAS) == 4
    calls = []
    monkeypatch.setattr(
        schemas.Draft202012Validator, "check_schema", classmethod(lambda cls, s: calls.append(s))
    )
    schemas.check_tool_schema({"type": "object", "properties": {"p9": {"type": "string"}}}, "tools[0]")
    assert calls == []  # known: not meta-validated again
    schemas.check_tool_schema({"type": "object", "properties": {"new": {"type": "string"}}}, "tools[0]")
    assert len(calls) == 1
