"""The root of every exception Atlas raises on purpose."""

from __future__ import annotations


class AtlasError(Exception):
    """Base class for Atlas's own errors; the CLI prints their message as one line."""
