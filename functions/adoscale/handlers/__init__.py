"""Lambda entry points: a few lines each, over the pure modules of adoscale.

Each handler module has ``make_handler(environ, **options)``, which builds that Lambda's
handler from an environment, and ``handler``, the entry point the stack names, which
builds itself from the process environment on its first invocation. The local mode and
tests call ``make_handler`` (or this package's ``make_handler(name, environ)``) and never
touch ``os.environ``.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class Handler(Protocol):
    """What the Lambda runtime calls."""

    def __call__(self, event: Any, context: Any) -> dict[str, Any]: ...


class FromProcessEnvironment:
    """The entry point the stack names: built once, on first use, from ``os.environ``.

    Building on first use rather than at import lets the local mode and tests import a
    handler module without a Lambda environment; a bad variable still fails the first
    invocation with its name.
    """

    def __init__(self, make: Callable[[Mapping[str, str]], Handler]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._built: Handler | None = None

    @property
    def built(self) -> Handler:
        """The handler of this process (built now if need be)."""
        with self._lock:
            if self._built is None:
                self._built = self._make(os.environ)
            return self._built

    def reset(self) -> None:
        """Forget the built handler: the next invocation reads the environment again."""
        with self._lock:
            self._built = None

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return self.built(event, context)


def from_process_environment(
    make: Callable[[Mapping[str, str]], Handler],
) -> FromProcessEnvironment:
    """The module-level ``handler`` of a handler module."""
    return FromProcessEnvironment(make)


def make_handler(name: str, environ: Mapping[str, str], **options: Any) -> Handler:
    """The handler of the Lambda ``name`` (``poller`` or a step) over ``environ``."""
    if not name.isidentifier():
        raise ValueError(f"handler: not a handler name: {name!r}")
    module = importlib.import_module(f"{__name__}.{name}")
    made: Handler = module.make_handler(environ, **options)
    return made
