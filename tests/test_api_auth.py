"""Authentication over real HTTP: a small app with one entitlements route, served by uvicorn,
authenticates through :mod:`api.auth`; JWTs are checked against a JWKS document served by a
second uvicorn server. No key or token ever reaches a log record."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth import (
    AuthError,
    Principal,
    Unauthenticated,
    authenticator_from_env,
    forbid_unless,
    handle_auth_error,
)
from atlas.embedded import free_port
from atlas.settings import SettingsError

BILLING_KEY = "billing-key-0123456789abcdef"
REPORTS_KEY = "reports-key-0123456789abcdef"
API_KEYS = f"billing-svc:{BILLING_KEY}, reports:{REPORTS_KEY}"
HS_SECRET = "hs256-secret-for-tests-0123456789abcdef"
ISSUER = "https://id.example.test/"
AUDIENCE = "atlas-api"

# --- servers -------------------------------------------------------------------------------


class Served:
    """A Starlette app served by uvicorn on 127.0.0.1 from a background thread."""

    def __init__(self, app: Starlette, port: int | None = None) -> None:
        self.app = app
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self.thread.join(10)


@dataclass
class Keys:
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(65537, 2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    stranger: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(65537, 2048)
    )

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
        return {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
            ]
        }


@dataclass
class Jwks:
    url: str
    fetches: list[float]
    slow_url: str  # answers once the test sets ``release``
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def jwks(keys: Keys) -> Iterator[Jwks]:
    fetches: list[float] = []
    port = free_port()
    served_jwks = Jwks(
        f"http://127.0.0.1:{port}/jwks.json", fetches, f"http://127.0.0.1:{port}/slow"
    )

    async def document(_request: Request) -> JSONResponse:
        fetches.append(time.monotonic())
        return JSONResponse(keys.jwks())

    async def slow_document(_request: Request) -> JSONResponse:
        served_jwks.reached.set()
        await anyio.to_thread.run_sync(served_jwks.release.wait, 10)
        return JSONResponse(keys.jwks())

    routes = [Route("/jwks.json", document), Route("/slow", slow_document)]
    with Served(Starlette(routes=routes), port):
        yield served_jwks


async def entitlements(request: Request) -> JSONResponse:
    principal = await request.app.state.authenticator.authenticate(request)
    forbid_unless(principal.may_read_user(request.path_params["user_id"]))
    return JSONResponse({"kind": principal.kind, "subject": principal.subject})


@pytest.fixture(scope="module")
def api() -> Iterator[Served]:
    app = Starlette(
        routes=[Route("/v1/users/{user_id}/entitlements", entitlements)],
        exception_handlers={AuthError: handle_auth_error},
    )
    with Served(app) as served:
        yield served


Get = Callable[..., httpx.Response]


@pytest.fixture
def secrets() -> list[str]:
    """Every key and token a test presents; none may appear in a log record."""
    return [BILLING_KEY, REPORTS_KEY, HS_SECRET]


@pytest.fixture(autouse=True)
def no_secret_is_logged(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.get_records("call"):
        logged = record.getMessage() + (caplog.handler.format(record) if record.exc_info else "")
        leaked = [secret for secret in secrets if secret in logged]
        assert not leaked, f"a credential was logged by {record.name}"


def configure(api: Served, env: dict[str, str]) -> Get:
    """Install the authenticator ``env`` describes; return a GET for a user's entitlements."""
    api.app.state.authenticator = authenticator_from_env(env)

    def get(user_id: str = "user_1", **headers: str) -> httpx.Response:
        with httpx.Client(base_url=api.url, trust_env=False) as client:
            return client.get(f"/v1/users/{user_id}/entitlements", headers=headers)

    return get


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated", "message": message}
    assert response.headers["www-authenticate"] == "Bearer"


# --- tokens --------------------------------------------------------------------------------


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "user_1", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300}
    return {key: value for key, value in {**base, **overrides}.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token PyJWT refuses to make: ``alg: none``, or HS256 keyed with a public key."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = b""
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def rs256(keys: Keys, payload: dict[str, Any], kid: str = "rsa-1") -> str:
    return jwt.encode(payload, keys.rsa_key, algorithm="RS256", headers={"kid": kid})


def public_pem(keys: Keys) -> bytes:
    return keys.rsa_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


# --- sessions for the callable verifier -------------------------------------------------------

callable_threads: list[int] = []


def _session_user(request: Request) -> str | None:
    callable_threads.append(threading.get_ident())
    session = request.headers.get("x-session", "")
    return session.removeprefix("session-") if session.startswith("session-") else None


def sync_verify(request: Request) -> str | None:
    return _session_user(request)


async def async_verify(request: Request) -> str | None:
    await asyncio.sleep(0)
    return _session_user(request)


def failing_verify(request: Request) -> str | None:
    raise RuntimeError("session store unreachable")


def refusing_verify(request: Request) -> str | None:
    raise Unauthenticated("session expired")


def odd_verify(request: Request) -> object:
    return 42


def service_verify(request: Request) -> Principal:
    return Principal("service", "cron")


def jwks_env(jwks: Jwks, **extra: str) -> dict[str, str]:
    return {
        "ATLAS_API_KEYS": API_KEYS,
        "ATLAS_AUTH_JWKS_URL": jwks.url,
        "ATLAS_AUTH_JWT_ISSUER": ISSUER,
        "ATLAS_AUTH_JWT_AUDIENCE": AUDIENCE,
        **extra,
    }


# --- API keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_service_key_reads_any_user(api: Served, header: str) -> None:
    get = configure(api, {"ATLAS_API_KEYS": API_KEYS})
    value = f"Bearer {REPORTS_KEY}" if header == "Authorization" else REPORTS_KEY
    response = get("someone_else", **{header: value})
    assert response.status_code == 200
    assert response.json() == {"kind": "service", "subject": "reports"}


def test_wrong_api_key_is_401(api: Served, secrets: list[str]) -> None:
    get = configure(api, {"ATLAS_API_KEYS": API_KEYS})
    wrong = BILLING_KEY[:-1] + "X"
    secrets.append(wrong)
    assert_401(get(**{"X-API-Key": wrong}), "invalid credentials")
    assert_401(get(**bearer(wrong)), "invalid credentials")


def test_missing_credentials_is_401(api: Served) -> None:
    get = configure(api, {"ATLAS_API_KEYS": API_KEYS})
    assert_401(get(), "missing credentials")
    assert_401(get(Authorization="Basic dXNlcjpwYXNz"), "missing credentials")


# --- JWT -----------------------------------------------------------------------------------


def test_hs256_token_reads_own_user_only(api: Served, secrets: list[str]) -> None:
    get = configure(api, {"ATLAS_AUTH_JWT_SECRET": HS_SECRET})
    token = jwt.encode(claims(iss=None, aud=None), HS_SECRET, algorithm="HS256")
    secrets.append(token)
    response = get("user_1", **bearer(token))
    assert response.status_code == 200
    assert response.json() == {"kind": "user", "subject": "user_1"}
    other = get("user_2", **bearer(token))
    assert other.status_code == 403
    assert other.json() == {"error": "forbidden", "message": "not allowed to read this user"}


def test_user_id_from_a_dotted_claim_path(api: Served, secrets: list[str]) -> None:
    get = configure(
        api,
        {"ATLAS_AUTH_JWT_SECRET": HS_SECRET, "ATLAS_AUTH_JWT_USER_CLAIM": "app_metadata.user_id"},
    )
    token = jwt.encode(claims(app_metadata={"user_id": "user_9"}), HS_SECRET, algorithm="HS256")
    no_claim = jwt.encode(claims(), HS_SECRET, algorithm="HS256")
    secrets.extend([token, no_claim])
    assert get("user_9", **bearer(token)).json() == {"kind": "user", "subject": "user_9"}
    assert_401(get("user_9", **bearer(no_claim)), "token has no string app_metadata.user_id claim")


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_jwks_token_accepted_and_key_set_cached(
    api: Served, jwks: Jwks, keys: Keys, kid: str, secrets: list[str]
) -> None:
    get = configure(api, jwks_env(jwks))
    before = len(jwks.fetches)
    if kid == "rsa-1":
        token = rs256(keys, claims())
    else:
        token = jwt.encode(claims(), keys.ec_key, algorithm="ES256", headers={"kid": kid})
    secrets.append(token)
    for _ in range(3):
        response = get("user_1", **bearer(token))
        assert response.status_code == 200
        assert response.json() == {"kind": "user", "subject": "user_1"}
    assert len(jwks.fetches) == before + 1
    assert get("anyone", **bearer(BILLING_KEY)).json()["subject"] == "billing-svc"


def test_key_set_fetch_does_not_block_other_requests(
    api: Served, jwks: Jwks, keys: Keys, secrets: list[str]
) -> None:
    get = configure(api, jwks_env(jwks, ATLAS_AUTH_JWKS_URL=jwks.slow_url))
    token = rs256(keys, claims())
    secrets.append(token)
    jwks.reached.clear()
    jwks.release.clear()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(get, "user_1", **bearer(token))
        assert jwks.reached.wait(10), "the key set was not fetched"
        try:  # answered while the fetch is still waiting: the event loop is free
            assert get("user_2", **{"X-API-Key": BILLING_KEY}).status_code == 200
        finally:
            jwks.release.set()
        assert waiting.result(10).status_code == 200


def test_expiry_within_leeway_is_accepted(api: Served, jwks: Jwks, keys: Keys) -> None:
    get = configure(api, jwks_env(jwks, ATLAS_AUTH_JWT_LEEWAY="60"))
    assert get(**bearer(rs256(keys, claims(exp=int(time.time()) - 30)))).status_code == 200


REJECTED: dict[str, tuple[Callable[[Keys], str], str]] = {
    "expired": (lambda k: rs256(k, claims(exp=int(time.time()) - 120)), "token expired"),
    "wrong audience": (lambda k: rs256(k, claims(aud="someone-else")), "wrong audience"),
    "no audience": (lambda k: rs256(k, claims(aud=None)), "token has no aud claim"),
    "wrong issuer": (lambda k: rs256(k, claims(iss="https://evil.test/")), "wrong issuer"),
    "no expiry": (lambda k: rs256(k, claims(exp=None)), "token has no exp claim"),
    "bad signature": (
        lambda k: jwt.encode(claims(), k.stranger, algorithm="RS256", headers={"kid": "rsa-1"}),
        "bad signature",
    ),
    "unknown key": (lambda k: rs256(k, claims(), kid="rsa-9"), "unknown signing key"),
    "HS256 keyed with the public key": (
        lambda k: forged({"alg": "HS256", "kid": "rsa-1"}, claims(), public_pem(k)),
        "algorithm not allowed",
    ),
    "alg none": (
        lambda k: forged({"alg": "none", "kid": "rsa-1"}, claims(), None),
        "algorithm not allowed",
    ),
    "RS256 key claiming ES256": (
        lambda k: forged({"alg": "ES256", "kid": "rsa-1"}, claims(), None),
        "algorithm not allowed",
    ),
    "no kid": (
        lambda k: jwt.encode(claims(), k.rsa_key, algorithm="RS256"),
        "token has no kid header",
    ),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_invalid_jwks_tokens_are_401(
    api: Served, jwks: Jwks, keys: Keys, case: str, secrets: list[str]
) -> None:
    make, reason = REJECTED[case]
    token = make(keys)
    secrets.append(token)
    assert_401(configure(api, jwks_env(jwks))(**bearer(token)), reason)


HS256_REJECTED: dict[str, tuple[Callable[[Keys], str], str]] = {
    "alg none": (lambda k: forged({"alg": "none"}, claims(), None), "algorithm not allowed"),
    "another secret": (
        lambda k: jwt.encode(claims(), "another-secret-0123456789abcdef-xyz", algorithm="HS256"),
        "bad signature",
    ),
    "RS256": (lambda k: rs256(k, claims()), "algorithm not allowed"),
    "expired": (
        lambda k: jwt.encode(claims(exp=int(time.time()) - 60), HS_SECRET, algorithm="HS256"),
        "token expired",
    ),
}


@pytest.mark.parametrize("case", list(HS256_REJECTED))
def test_invalid_hs256_tokens_are_401(
    api: Served, keys: Keys, case: str, secrets: list[str]
) -> None:
    make, reason = HS256_REJECTED[case]
    token = make(keys)
    secrets.append(token)
    assert_401(configure(api, {"ATLAS_AUTH_JWT_SECRET": HS_SECRET})(**bearer(token)), reason)


def test_unreachable_key_set_is_401_and_a_warning(
    api: Served, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"ATLAS_AUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"}
    get = configure(api, {**env, "ATLAS_AUTH_JWT_AUDIENCE": AUDIENCE})
    assert_401(get(**bearer(rs256(keys, claims()))), "cannot verify token: key set unavailable")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cannot fetch the JWKS" in r.getMessage() for r in warnings)


def test_a_bearer_token_that_is_not_a_jwt_falls_through(api: Served, jwks: Jwks) -> None:
    get = configure(api, jwks_env(jwks, ATLAS_AUTH_CALLABLE="tests.test_api_auth:sync_verify"))
    assert_401(get(**bearer("opaque.session.token")), "invalid credentials")
    assert get(**{"X-Session": "session-user_1"}).status_code == 200


# --- your own callable ---------------------------------------------------------------------


def test_sync_callable_runs_in_a_worker_thread(api: Served) -> None:
    get = configure(api, {"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:sync_verify"})
    callable_threads.clear()
    response = get("user_7", **{"X-Session": "session-user_7"})
    assert response.json() == {"kind": "user", "subject": "user_7"}
    assert callable_threads and callable_threads[0] != api.thread.ident
    assert_401(get("user_7"), "missing credentials")


def test_async_callable_runs_on_the_event_loop(api: Served) -> None:
    get = configure(api, {"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:async_verify"})
    callable_threads.clear()
    response = get("user_7", **{"X-Session": "session-user_7"})
    assert response.json() == {"kind": "user", "subject": "user_7"}
    assert callable_threads[0] == api.thread.ident
    assert get("user_8", **{"X-Session": "session-user_7"}).status_code == 403


def test_callable_may_return_a_principal(api: Served) -> None:
    get = configure(api, {"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:service_verify"})
    assert get("anyone").json() == {"kind": "service", "subject": "cron"}


def test_callable_that_raises_is_401_and_logged(
    api: Served, caplog: pytest.LogCaptureFixture
) -> None:
    get = configure(api, {"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:failing_verify"})
    assert_401(get(**{"X-Session": "session-user_1"}), "authentication failed")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "tests.test_api_auth:failing_verify raised" in record.getMessage()
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)


def test_callable_reasons_reach_the_caller(api: Served) -> None:
    get = configure(api, {"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:refusing_verify"})
    assert_401(get(), "session expired")


def test_callable_returning_something_else_is_401(
    api: Served, caplog: pytest.LogCaptureFixture
) -> None:
    get = configure(api, {"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:odd_verify"})
    assert_401(get(), "authentication failed")
    assert any("returned int" in r.getMessage() for r in caplog.records)


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ATLAS_API_KEYS": "billing-svc:short"}, "ATLAS_API_KEYS"),
        ({"ATLAS_API_KEYS": BILLING_KEY}, "ATLAS_API_KEYS"),
        ({"ATLAS_API_KEYS": f"billing svc:{BILLING_KEY}"}, "ATLAS_API_KEYS"),
        ({"ATLAS_API_KEYS": f"a:{BILLING_KEY},a:{REPORTS_KEY}"}, "ATLAS_API_KEYS"),
        ({"ATLAS_API_KEYS": f"a:{BILLING_KEY},b:{BILLING_KEY}"}, "ATLAS_API_KEYS"),
        ({"ATLAS_API_KEYS": " , "}, "ATLAS_API_KEYS"),
        ({"ATLAS_AUTH_JWT_SECRET": "too-short"}, "ATLAS_AUTH_JWT_SECRET"),
        ({"ATLAS_AUTH_JWKS_URL": "https://id.example.test/jwks"}, "ATLAS_AUTH_JWT_AUDIENCE"),
        (
            {"ATLAS_AUTH_JWKS_URL": "file:///etc/jwks", "ATLAS_AUTH_JWT_AUDIENCE": AUDIENCE},
            "ATLAS_AUTH_JWKS_URL",
        ),
        (
            {"ATLAS_AUTH_JWT_SECRET": HS_SECRET, "ATLAS_AUTH_JWKS_URL": "https://x.test/"},
            "ATLAS_AUTH_JWKS_URL",
        ),
        ({"ATLAS_AUTH_JWT_SECRET": HS_SECRET, "ATLAS_AUTH_JWT_LEEWAY": "-1"}, "_LEEWAY"),
        ({"ATLAS_AUTH_JWT_SECRET": HS_SECRET, "ATLAS_AUTH_JWT_LEEWAY": "soon"}, "_LEEWAY"),
        ({"ATLAS_AUTH_JWT_SECRET": HS_SECRET, "ATLAS_AUTH_JWT_USER_CLAIM": "a..b"}, "_USER_CLAIM"),
        ({"ATLAS_AUTH_JWT_ISSUER": ISSUER}, "ATLAS_AUTH_JWT_ISSUER"),
        ({"ATLAS_AUTH_CALLABLE": "tests.no_such_module:verify"}, "ATLAS_AUTH_CALLABLE"),
        ({"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:no_such_function"}, "ATLAS_AUTH_CALLABLE"),
        ({"ATLAS_AUTH_CALLABLE": "tests.test_api_auth.sync_verify"}, "ATLAS_AUTH_CALLABLE"),
        ({"ATLAS_AUTH_CALLABLE": "tests.test_api_auth:ISSUER"}, "ATLAS_AUTH_CALLABLE"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable) as raised:
        authenticator_from_env(env)
    assert BILLING_KEY not in str(raised.value) and REPORTS_KEY not in str(raised.value)
    assert HS_SECRET not in str(raised.value)


def test_no_verifier_configured_names_every_choice() -> None:
    with pytest.raises(SettingsError) as raised:
        authenticator_from_env({"ATLAS_API_KEYS": "  "})
    for variable in (
        "ATLAS_API_KEYS",
        "ATLAS_AUTH_JWT_SECRET",
        "ATLAS_AUTH_JWKS_URL",
        "ATLAS_AUTH_CALLABLE",
    ):
        assert variable in str(raised.value)


def test_import_failure_says_why() -> None:
    with pytest.raises(SettingsError, match="ModuleNotFoundError"):
        authenticator_from_env({"ATLAS_AUTH_CALLABLE": "tests.no_such_module:verify"})
