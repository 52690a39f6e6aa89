"""Three downstream instances (separate processes, each with its own client cache) follow one
catalog change within about a second; with the broker and the API gone, their cached answers
hold until the maximum age and then turn into denials that say why."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest

from atlas.embedded import EmbeddedKafka
from tests import stripe_builders as build
from tests.support.pipeline import API_KEY, PRICES, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MAX_AGE_S = 4.0
INSTANCES = 3
DEFAULT = resources.files("atlas").joinpath("default_catalog.toml").read_text()
PRO_GRANTS = '"data-exploration", "exports", "api-access", "team-seats"'
MOVED = DEFAULT.replace(
    f"features = [{PRO_GRANTS}]", f'features = [{PRO_GRANTS}, "advisory-sessions"]', 1
)


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    output: Path
    answers: list[dict[str, Any]] = field(default_factory=list)

    def read(self) -> list[dict[str, Any]]:
        lines = self.output.read_text().splitlines()
        self.answers = [orjson.loads(line) for line in lines if line.strip()]
        return self.answers

    def latest(self) -> dict[str, Any] | None:
        answers = self.read()
        return answers[-1] if answers else None


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    """A broker of this module's own: the test kills it."""
    log = tmp_path_factory.mktemp("instances-broker") / "tansu.log"
    broker = EmbeddedKafka(log_path=log).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def pipeline(
    own_broker: EmbeddedKafka, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    running = Pipeline(own_broker.bootstrap, database_url, tmp_path_factory.mktemp("p")).start()
    yield running
    running.stop()


def start_instances(pipeline: Pipeline, user: str, feature: str, workdir: Path) -> list[Instance]:
    env = {
        **pipeline.env,
        "ATLAS_API_URL": pipeline.api_url,
        "ATLAS_API_KEY": API_KEY,
        "WATCH_MAX_AGE": str(MAX_AGE_S),
    }
    instances = []
    for number in range(INSTANCES):
        output = workdir / f"instance-{number}.jsonl"
        with open(output, "wb") as sink, open(workdir / f"instance-{number}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.watch_entitlement", user, feature],
                env=env,
                stdout=sink,
                stderr=log,
            )
        instances.append(Instance(process, output))
    return instances


def test_every_instance_follows_a_change_then_denies_when_atlas_is_gone(
    pipeline: Pipeline, own_broker: EmbeddedKafka, tmp_path: Path
) -> None:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, PRICES["pro"], created=int(time.time()) - 60):
        pipeline.post_ok(event)
    pipeline.wait_row(customer, plan="pro")
    instances = start_instances(pipeline, user, "advisory-sessions", tmp_path)
    try:
        for instance in instances:
            wait_for(instance.latest, 30, "each instance's first answer")
            assert instance.latest() == {**instance.answers[-1], "allowed": False}
            assert instance.answers[-1]["reason"] == "not_in_plan"
        time.sleep(2)  # each instance's change consumer is assigned and polling

        catalog = tmp_path / "moved.toml"
        catalog.write_text(MOVED)
        started_at = time.time()
        applied = pipeline.cli("catalog", "apply", str(catalog), "--reason", "move a feature")
        published_at = time.time()
        assert applied.returncode == 0, applied.stderr
        for instance in instances:
            wait_for(lambda i=instance: (i.latest() or {}).get("allowed"), 15, "allowed")
        last_flip = max(instance.answers[-1]["at"] for instance in instances)
        print(
            f"catalog change reached all {INSTANCES} instances {last_flip - published_at:.3f} s "
            f"after `atlas catalog apply` returned ({last_flip - started_at:.3f} s after it began)"
        )

        pipeline.stop_service("api")
        own_broker.stop()
        gone_at = time.time()
        time.sleep(MAX_AGE_S / 2)
        for instance in instances:
            assert instance.latest()["allowed"] is True, "cached answers hold until max age"  # type: ignore[index]
        for instance in instances:
            wait_for(lambda i=instance: (i.latest() or {}).get("allowed") is False, 20, "deny")
            denial = instance.answers[-1]
            assert denial["reason"] == "stale"
            # max_age counts from the last broker contact: at most one probe (max_age / 4) before
            assert denial["at"] - gone_at >= MAX_AGE_S * 0.75 - 0.1
    finally:
        for instance in instances:
            instance.process.kill()
            instance.process.wait()
