"""The client reads what Atlas's own schema code writes (a contract test: no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson
import pytest

from atlas_client import _wire
from schemas.entitlements import Entitlements, change_between
from tests.support.client_fixtures import api_body, change, record


def _written(user_id: str) -> Entitlements:
    names = {field.name for field in dataclasses.fields(Entitlements)}
    return Entitlements.from_dict({k: v for k, v in record(user_id).items() if k in names})


def test_records_written_by_atlas_are_read() -> None:
    written = _written("w1")
    for read in (
        _wire.entitlements_record(written.to_json()),
        _wire.change_record(change_between(None, written).to_json()),
    ):
        assert (read.user_id, read.customer_id, read.plan, read.version) == (
            "w1",
            "cus_w1",
            "pro",
            written.version,
        )
        assert read.features == frozenset(written.features)
        assert dict(read.limits) == written.limits
        assert read.current_period_end == datetime(2025, 12, 1, tzinfo=UTC)


def test_api_body_is_read_and_extra_fields_are_ignored() -> None:
    body = {**api_body(record("w2", "free")), "added_later": [1, 2]}
    read = _wire.api_entitlements(orjson.dumps(body))
    assert (read.plan, read.grace_until, read.banner) == ("free", None, None)
    assert read.current_period_end == datetime(2025, 12, 1, tzinfo=UTC)


def test_nested_entitlements_may_omit_their_schema_but_not_contradict_it() -> None:
    event = change(record("w3"))
    del event["entitlements"]["schema"]
    assert _wire.change_record(orjson.dumps(event)).user_id == "w3"
    event["entitlements"]["schema"] = 2
    with pytest.raises(_wire.WireFormatError):
        _wire.change_record(orjson.dumps(event))
