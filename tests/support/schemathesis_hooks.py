"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.support.schemathesis_hooks``), steered by
environment variables the test sets:

* ``ATLAS_FUZZ_SIGNING_SECRET``: every generated webhook body is signed with it, so the fuzzer
  reaches what lies behind the signature check (parsing, publishing) instead of stopping at 400;
* ``ATLAS_FUZZ_USER_ID`` / ``ATLAS_FUZZ_CUSTOMER_ID``: path parameters are drawn from these
  known ids as well as generated ones, so the answers for existing rows (200 bodies, ETags) are
  checked against the document too, not only 404s.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

from ingress.signature import sign


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    secret = os.environ.get("ATLAS_FUZZ_SIGNING_SECRET")
    if not secret or case.path != "/stripe/webhook" or case.body is None:
        return
    if not isinstance(case.body, bytes):
        try:
            case.body = json.dumps(case.body, allow_nan=False).encode()
        except (TypeError, ValueError):
            return  # not JSON: it goes unsigned, and must be refused all the same
    case.headers = {**(case.headers or {}), "Stripe-Signature": sign(case.body, secret)}


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    known = {
        "user_id": os.environ.get("ATLAS_FUZZ_USER_ID"),
        "customer_id": os.environ.get("ATLAS_FUZZ_CUSTOMER_ID"),
    }
    if not isinstance(path_parameters, dict) or not any(known.values()):
        return st.just(path_parameters)
    existing = {name: known.get(name) or value for name, value in path_parameters.items()}
    return st.sampled_from([path_parameters, existing])
