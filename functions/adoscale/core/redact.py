"""Keep secrets out of everything that leaves the process: logs, alerts, results, errors."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

MASK = "***"


class Redactor:
    """Replaces each known secret (and its Basic-auth encodings) with a mask."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret:
            return
        for needle in (secret, _basic(f":{secret}"), _basic(secret)):
            if needle not in self._needles:
                self._needles.append(needle)
        self._needles.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for needle in self._needles:
            value = value.replace(needle, MASK)
        return value

    def scrub(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value


def _basic(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
