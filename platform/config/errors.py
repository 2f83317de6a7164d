"""The base of every refusal a service raises: a message safe to show, a stable `code` and the
HTTP status an API answers it with.

Plain Python (no Django), in the project's lowest layer, so every app may import it: `accounts`,
`mediastore`, `factcheck`, `detection`, `moderation`, `integrations`. Services raise subclasses;
views never translate them: `config.drf.api_exception_handler` answers them for every DRF view,
and the one plain Django API view (the inbound webhook) answers them with `refusal_body` too.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar


class ServiceError(Exception):
    """A service refuses to do what it was asked; `str(error)` says why.

    Subclasses set `default_code` and `status`; an instance may name its own `code`, `status`
    and the request `field` at fault."""

    default_code: ClassVar[str] = "invalid"
    status: int = HTTPStatus.BAD_REQUEST

    def __init__(
        self, message: str, *, code: str = "", field: str = "", status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.field = field
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        """The JSON error body: `detail` and `code`, and `field` when one is at fault."""
        body: dict[str, Any] = {"detail": str(self), "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


def refusal_body(error: ServiceError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of a refusal: the one mapping every API view answers with."""
    return int(error.status), error.body()
