"""The answers every route can give because of the shared app, written into each service's OpenAPI document.

A route declares what its own code answers (its 200/201, its 404 or 409); what the shared app adds
around every route is declared here once, so the documents tell the truth (issue 11 item 8) without
each route repeating it:

* ``401`` (no, bad or expired token) and ``403`` (role or scope) on every operation behind the bearer
  token;
* ``404`` on every operation with a path parameter: an unknown id and one outside the caller's scope
  answer the same 404, so a refusal never confirms that a case exists (issue 11 item 2);
* ``400`` (a body that is not UTF-8 JSON: FastAPI's "error parsing the body") and ``413`` on every
  operation with a request body (``BodyLimitMiddleware``);
* ``429`` with ``Retry-After`` on the operations the per-caller write limit covers (:mod:`shared.ratelimit`);
* ``503`` with ``Retry-After`` (storage unavailable) on every operation but ``/healthz``;
* ``422`` in the shape :func:`shared.app.validation_detail` really sends: ``{"detail": [{"field", "type",
  "msg"}]}`` (FastAPI's default document says ``loc``, which no centinela service sends), or a
  ``CentinelaError`` body ``{"detail": "...", "reason": ..., "field": ...}``.

A route that declares one of these codes itself keeps its own description; the schema of a bare
description (no content) is filled in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.ratelimit import RouteRule

PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_REF = "#/components/schemas/HTTPValidationError"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error: a sentence for people (never a submitted value), and for some errors a stable "
    "machine `reason` and the `field` at fault",
    "required": ["detail"],
    "properties": {
        "detail": {"title": "Detail", "type": "string"},
        "reason": {"title": "Reason", "type": "string"},
        "field": {"title": "Field", "type": "string"},
        "request_id": {"title": "Request Id", "type": "string"},
    },
}

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "description": "One invalid input: where (`body.identity.birth_date`, `query.limit`), the error type "
    "and a message; the submitted value is never echoed (it may be personal data)",
    "required": ["field", "type", "msg"],
    "properties": {
        "field": {"title": "Field", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "msg": {"title": "Message", "type": "string"},
    },
}

VALIDATION_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "description": "Request validation failed: a list of field errors, or one error naming its field",
    "required": ["detail"],
    "properties": {
        "detail": {
            "title": "Detail",
            "anyOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
                {"type": "string"},
            ],
        },
        "reason": {"title": "Reason", "type": "string"},
        "field": {"title": "Field", "type": "string"},
    },
}

RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}
}

COMMON: dict[str, dict[str, Any]] = {
    "401": {"description": "no bearer token, or a token refused (expired, wrong signature, lifetime, subject...)"},
    "403": {"description": "the caller's roles or scope do not allow this"},
    "400": {"description": "the body cannot be read as JSON (not UTF-8, or not JSON at all)"},
    "404": {"description": "unknown, or outside the caller's scope (the two look the same)"},
    "413": {"description": "request body larger than CENTINELA_MAX_BODY_BYTES"},
    "429": {"description": "too many writes from this caller; try again after Retry-After seconds"},
    "503": {"description": "storage unavailable; try again after Retry-After seconds"},
}

_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
_NO_STORAGE = {"/healthz", "/readyz"}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ref}}}


def _add(responses: dict[str, Any], code: str, ref: str, headers: dict[str, Any] | None = None) -> None:
    entry = responses.get(code)
    if entry is None:
        entry = dict(COMMON.get(code, {"description": "error"}))
        responses[code] = entry
    entry.setdefault("content", _json(ref))
    if headers:
        entry.setdefault("headers", headers)


def complete(document: dict[str, Any], rate_limited: Iterable[RouteRule] = ()) -> dict[str, Any]:
    """Add the shared app's answers to ``document`` (an OpenAPI dict), in place; returns it."""
    rules = tuple(rate_limited)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationError"] = FIELD_ERROR_SCHEMA
    schemas["HTTPValidationError"] = VALIDATION_SCHEMA
    global_security = bool(document.get("security"))
    for path, item in (document.get("paths") or {}).items():
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            secured = bool(op.get("security")) or (global_security and "security" not in op)
            if secured:
                _add(responses, "401", PROBLEM_REF)
                _add(responses, "403", PROBLEM_REF)
            if "{" in path:
                _add(responses, "404", PROBLEM_REF)
            if "requestBody" in op:
                _add(responses, "400", PROBLEM_REF)
                _add(responses, "413", PROBLEM_REF)
            if any(rule.matches(method.upper(), _example_path(path)) for rule in rules):
                _add(responses, "429", PROBLEM_REF, RETRY_AFTER)
            if path not in _NO_STORAGE:
                _add(responses, "503", PROBLEM_REF, RETRY_AFTER)
            validation = responses.get("422")
            if isinstance(validation, dict) and "content" not in validation:
                validation["content"] = _json(VALIDATION_REF)
    return document


def _example_path(template: str) -> str:
    """``/v1/cases/{case_id}`` -> ``/v1/cases/x`` so a rule's ``{param}`` / ``*`` segment matches it."""
    out = []
    for segment in template.split("/"):
        out.append("x" if segment.startswith("{") and segment.endswith("}") else segment)
    return "/".join(out)


def install(app: FastAPI, rate_limited: Iterable[RouteRule] = ()) -> None:
    """Make ``app.openapi()`` return the completed document (built once, like FastAPI's own)."""
    rules = tuple(rate_limited)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                terms_of_service=app.terms_of_service,
                contact=app.contact,
                license_info=app.license_info,
                routes=app.routes,
                webhooks=app.webhooks.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            app.openapi_schema = complete(document, rules)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
