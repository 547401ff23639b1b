"""The OpenAI/vLLM error body, so every slakit server fails in the shape clients parse."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def error_body(status: int, err_type: str, message: str, param: str | None = None) -> dict:
    """vLLM's ErrorResponse: `{"error": {message, type, param, code}}`."""
    return {"error": {"message": message, "type": err_type, "param": param, "code": status}}


def error_response(
    status: int,
    err_type: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, err_type, message, param), status_code=status, headers=headers
    )
