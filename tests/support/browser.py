"""Headless Debian Chromium driven by Playwright, for the end-to-end tests of the web page.

Playwright's own browser builds are never downloaded: it launches ``/usr/bin/chromium``
(``ATLAS_CHROMIUM``), which ``scripts/install-chromium`` installs when missing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = os.environ.get("ATLAS_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> None:
    """Install Chromium when missing; skip, with the installer's reason, when it cannot be."""
    result = subprocess.run(
        [ROOT / "scripts" / "install-chromium"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"no Chromium for the browser tests: {result.stderr.strip()}")


def build_page() -> None:
    """Build the example page with ``scripts/web-build`` (npm ci only when manifests changed)."""
    result = subprocess.run(
        [ROOT / "scripts" / "web-build"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"scripts/web-build failed:\n{result.stdout}{result.stderr}"


def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
