"""What media intake refuses with: one error for images and videos."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

from config.errors import ServiceError


class MediaRejected(ServiceError, ValueError):
    """The bytes are not media we accept; the message is safe to show the sender.

    400, or 413 when the file is over its kind's byte cap (`too_large_code`). With `field` (the
    request field that carried the file) the body is a field error,
    `{field: [message], "code": code}`."""

    too_large_code: ClassVar[str] = "too_large"

    def __init__(self, message: str, *, code: str, field: str = "") -> None:
        too_large = code == self.too_large_code
        status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE if too_large else HTTPStatus.BAD_REQUEST
        super().__init__(message, code=code, field=field, status=status)

    def body(self) -> dict[str, Any]:
        if not self.field:
            return super().body()
        return {self.field: [str(self)], "code": self.code}
