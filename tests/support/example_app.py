"""Run the example service (examples/reports_app) as a process against a pipeline."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from atlas.embedded import free_port
from tests.support.pipeline import API_KEY, Pipeline
from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


@contextlib.contextmanager
def running_example(pipeline: Pipeline, log: Path, **env: str) -> Iterator[str]:
    """Start ``uvicorn examples.reports_app.app:app`` with the pipeline's settings and its
    API's address and service key; yield its URL; stop it."""
    port = free_port()
    settings = {
        **pipeline.env,
        "ATLAS_API_URL": pipeline.api_url,
        "ATLAS_API_KEY": API_KEY,
        **env,
    }
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.reports_app.app:app", "--port", str(port)],
            env=settings,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, 30, "the example app")
        yield url
    finally:
        process.terminate()
        process.wait(15)
