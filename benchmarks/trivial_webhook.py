"""The reference for the ingress benchmark: a Starlette endpoint that reads the body and
answers 200, served by uvicorn with the ingress's own settings (`atlas/services.py`).

    .venv/bin/python -m benchmarks.trivial_webhook PORT
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas.services import INGRESS_UVICORN_OPTIONS


async def webhook(request: Request) -> Response:
    await request.body()
    return JSONResponse({"received": True})


app = Starlette(routes=[Route("/stripe/webhook", webhook, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), **INGRESS_UVICORN_OPTIONS)
