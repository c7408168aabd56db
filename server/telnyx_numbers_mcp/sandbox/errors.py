"""Telnyx-shaped error answers, raised from anywhere in the handlers and rendered once by the app."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: HTTP status plus the Telnyx `errors` array."""

    def __init__(self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None):
        super().__init__(errors[0].get("detail", "") if errors else "")
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors}


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(
        404,
        [
            {
                "code": "10005",
                "title": "Resource not found",
                "detail": f"The requested {what} '{ident}' was not found.",
            }
        ],
    )


def invalid(pointer: str, detail: str, *, code: str = "10015", title: str = "Invalid value") -> ApiError:
    """422 pointing at the offending body field (JSON pointer)."""
    return ApiError(422, [{"code": code, "title": title, "detail": detail, "source": {"pointer": pointer}}])


def missing(pointer: str) -> ApiError:
    field = pointer.rsplit("/", 1)[-1]
    return invalid(pointer, f"The '{field}' parameter is required.", code="10004", title="Missing required parameter")


def invalid_param(parameter: str, detail: str, *, status: int = 422) -> ApiError:
    """422 (or the status the operation documents) naming a query or path parameter."""
    return ApiError(
        status,
        [{"code": "10015", "title": "Invalid value", "detail": detail, "source": {"parameter": parameter}}],
    )


def unauthorized() -> ApiError:
    return ApiError(
        401,
        [
            {
                "code": "10009",
                "title": "Authentication failed",
                "detail": "Could not understand the provided credentials.",
            }
        ],
    )


def fault_error(status: int, retry_after: float | None) -> ApiError:
    """Answer for an injected fault; 429 carries Retry-After when asked."""
    if status == 429:
        err = {"code": "10011", "title": "Too many requests", "detail": "Rate limit exceeded; slow down."}
    elif status >= 500:
        err = {"code": "10007", "title": "Unexpected error", "detail": "An unexpected error occurred."}
    else:
        err = {"code": str(10000 + status), "title": "Injected fault", "detail": f"Injected {status} answer."}
    headers = {}
    if retry_after is not None:
        ra = int(retry_after) if float(retry_after).is_integer() else retry_after
        headers["Retry-After"] = str(ra)
    return ApiError(status, [err], headers)
