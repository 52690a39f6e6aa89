"""`atlas catalog apply` changes access for every affected customer with no deploy, announces
only real changes, survives a worker restart, and refuses catalogs that would corrupt bitmaps."""

from __future__ import annotations

import time
from collections import Counter
from importlib import resources
from pathlib import Path

import orjson
import pytest

from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DEFAULT = resources.files("atlas").joinpath("default_catalog.toml").read_text()
PRO_FEATURES = '"data-exploration", "exports", "api-access", "team-seats",'
MOVED = DEFAULT.replace(
    f"features = [{PRO_FEATURES.rstrip(',')}]",
    f'features = [{PRO_FEATURES} "advisory-sessions"]',
    1,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def subscribe(pipeline: Pipeline, price: str) -> str:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, price, created=int(time.time()) - 60):
        pipeline.post_ok(event)
    return customer


def changes_by_customer(reader: TopicReader, seconds: float) -> Counter[bytes]:
    reader.poll_for(seconds)
    return Counter(record.key for record in reader.records if record.key)


def has_feature(pipeline: Pipeline, customer: str, feature: str) -> bool:
    row = pipeline.row(customer)
    return row is not None and feature in row["features"]


def published_version(pipeline: Pipeline) -> int:
    shown = pipeline.cli("catalog", "show")
    assert shown.returncode == 0, shown.stderr
    if shown.stdout.startswith("no catalog published"):
        return 0
    return int(orjson.loads(shown.stdout)["version"])


def test_moving_a_feature_reaches_exactly_the_affected_customers(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    assert MOVED != DEFAULT
    pro = [subscribe(pipeline, PRICES["pro"]) for _ in range(3)]
    advisory = subscribe(pipeline, PRICES["advisory"])
    free = build.new_id("cus")
    pipeline.post_ok(build.customer_event("customer.created", free, user_id=build.new_id("user")))
    for customer in pro:
        pipeline.wait_row(customer, plan="pro")
    pipeline.wait_row(advisory, plan="advisory")
    pipeline.wait_row(free, plan="free")

    reader = TopicReader(pipeline.bootstrap, pipeline.topics.entitlement_changes)
    try:
        before = changes_by_customer(reader, 1.0)
        applied = pipeline.cli(
            "catalog", "apply", str(write(tmp_path, "moved.toml", MOVED)),
            "--reason", "advisory sessions for every pro customer", "--by", "tests",
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        assert "~ plan pro: grants ['advisory-sessions']" in applied.stdout
        for customer in pro:
            wait_for(lambda c=customer: has_feature(pipeline, c, "advisory-sessions"), 20, customer)
        after = changes_by_customer(reader, 2.0)
        last = {record.key: orjson.loads(record.value) for record in reader.records if record.key}
    finally:
        reader.close()
    for customer in pro:
        key = customer.encode()
        assert after[key] == before[key] + 1
        assert last[key]["granted"] == ["advisory-sessions"] and last[key]["revoked"] == []
    for unchanged in (advisory, free):
        assert after[unchanged.encode()] == before[unchanged.encode()], unchanged
    assert published_version(pipeline) == 1
    wait_for(lambda: pipeline.api.get("/v1/catalog").json()["version"] == 1, 20, "catalog row")


def test_a_restarted_worker_uses_the_published_catalog(pipeline: Pipeline) -> None:
    assert published_version(pipeline) >= 1, "runs after the catalog was moved"
    pipeline.stop_service("worker")
    pipeline.start_service("worker")
    customer = subscribe(pipeline, PRICES["pro"])
    row = pipeline.wait_row(customer, plan="pro")
    assert "advisory-sessions" in row["features"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("bit = 1\n", "bit = 9\n"), "features.exports.bit changes from 1 to 9"),
        (
            ("[features.priority-support]\nbit = 5", "[features.priority-support]\nbit = 3"),
            "features.priority-support.bit 3 is already used by 'team-seats'",
        ),
        (
            ('[features.exports]\nbit = 1\ndescription = "Export results as CSV and Parquet"', ""),
            "feature 'exports' is removed from [features] but plans.advisory, plans.pro",
        ),
        (('"data-exploration"]', '"data-exploration", "teleport"]'), "undefined features"),
    ],
)
def test_bad_catalogs_are_refused_and_nothing_is_published(
    pipeline: Pipeline, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    version = published_version(pipeline)
    bad = MOVED.replace(*edit, 1)
    assert bad != MOVED
    result = pipeline.cli(
        "catalog", "apply", str(write(tmp_path, "bad.toml", bad)), "--reason", "x"
    )
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert published_version(pipeline) == version


def test_dry_run_validates_without_publishing(pipeline: Pipeline, tmp_path: Path) -> None:
    version = published_version(pipeline)
    result = pipeline.cli(
        "catalog", "apply", str(write(tmp_path, "same.toml", MOVED)), "--reason", "check",
        "--dry-run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "nothing published" in result.stdout
    assert published_version(pipeline) == version


def test_apply_needs_a_reason(pipeline: Pipeline, tmp_path: Path) -> None:
    result = pipeline.cli(
        "catalog", "apply", str(write(tmp_path, "c.toml", MOVED)), "--reason", "  "
    )
    assert result.returncode == 2 and "--reason" in result.stderr


def test_a_retired_bit_is_never_reused(pipeline: Pipeline, tmp_path: Path) -> None:
    """Runs last: it retires priority-support for the rest of this module's pipeline."""
    without = MOVED.replace(
        '\n  "advisory-sessions", "priority-support",\n', '\n  "advisory-sessions",\n'
    )
    without = without.replace(
        '[features.priority-support]\nbit = 5\ndescription = "Support answers within one '
        'business day"\n',
        "",
    )
    retired = pipeline.cli(
        "catalog", "apply", str(write(tmp_path, "retire.toml", without)), "--reason", "retire"
    )
    assert retired.returncode == 0, retired.stderr
    reuse = without.replace("[features.exports]", "[features.sla]\nbit = 5\n\n[features.exports]")
    refused = pipeline.cli(
        "catalog", "apply", str(write(tmp_path, "reuse.toml", reuse)), "--reason", "reuse"
    )
    assert refused.returncode == 2
    assert "bit 5 belonged to removed feature 'priority-support'" in refused.stderr
