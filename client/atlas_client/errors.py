"""The exceptions atlas_client raises on purpose.

    AtlasClientError
     ├── ConfigurationError   constructor arguments that cannot work (also a ValueError)
     ├── ClientClosedError    a check needed the network after close() (also a RuntimeError)
     ├── GateNotInstalledError  a gated endpoint found no AtlasGate on its app
     └── AccessRefused        raised by gates: the request gets its 401/403 JSON answer

Denials are not exceptions: a check answers a ``Decision`` with a reason.
"""

from __future__ import annotations

from typing import Any


class AtlasClientError(Exception):
    """Base class of every exception atlas_client raises on purpose."""


class ConfigurationError(AtlasClientError, ValueError):
    """The client's arguments cannot work; the message names the argument."""


class ClientClosedError(AtlasClientError, RuntimeError):
    """A check needed the Atlas API after ``close()``; only cached answers remain available."""


class GateNotInstalledError(AtlasClientError, RuntimeError):
    """A gated endpoint ran but ``app.state.atlas_gate`` holds no ``AtlasGate``: set it at
    start-up (Starlette) or call ``atlas_client.fastapi.install(app, gate)`` (FastAPI)."""


class AccessRefused(AtlasClientError):
    """A gate refused a request: ``status_code`` (401 or 403) and the JSON ``body`` to send."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(body["message"])
        self.status_code = status_code
        self.body = body
