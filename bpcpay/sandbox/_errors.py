"""The sandbox's API errors: one exception that becomes ``{"error": {...}}`` with a status.

Messages name fields, never their values when those could be secrets (keys, card data).
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["ErrorType", "GatewayError"]


class ErrorType:
    """Values of ``error.type`` in the sandbox's error bodies."""

    INVALID_REQUEST: Final = "invalid_request_error"
    AUTHENTICATION: Final = "authentication_error"
    PERMISSION: Final = "permission_error"
    NOT_FOUND: Final = "not_found_error"
    RATE_LIMIT: Final = "rate_limit_error"
    API: Final = "api_error"


class GatewayError(Exception):
    """An API error answer.

    Args:
        status: the HTTP status.
        error_type: one of :class:`ErrorType`.
        code: a short machine-readable code.
        message: for humans; must not contain secrets.
        param: the wire name of the offending field (``paymentData.captureMethod``), if any.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        code: str,
        message: str,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.code = code
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {
            "error": {
                "type": self.error_type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
            }
        }


def invalid(param: str | None, message: str, code: str = "parameter_invalid") -> GatewayError:
    """400 ``invalid_request_error`` about ``param``."""
    return GatewayError(400, ErrorType.INVALID_REQUEST, code, message, param)


def not_found(kind: str, param: str | None = None) -> GatewayError:
    """404 for an unknown id; the id itself is not echoed (it may be a mistyped secret)."""
    return GatewayError(404, ErrorType.NOT_FOUND, "resource_missing", f"No such {kind}.", param)


def conflict(code: str, message: str) -> GatewayError:
    """409: the object is not in a state that allows the call."""
    return GatewayError(409, ErrorType.INVALID_REQUEST, code, message)
