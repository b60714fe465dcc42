"""Lambda entry points: a few lines each, over the pure modules of adoscale.

Each handler module's ``handler`` is the entry point the stack names: it builds itself
from the process environment on its first invocation, and ``handler.make(environ)``
builds a handler from any environment. The local mode and tests build theirs with
``make_handler(name, environ)`` and never touch ``os.environ``. A step module only says
what its step does (``work``); ``step_lambda`` turns that into its entry point.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from adoscale.workflow.runtime import StepWork


class Handler(Protocol):
    """What the Lambda runtime calls."""

    def __call__(self, event: Any, context: Any) -> dict[str, Any]: ...


class FromProcessEnvironment:
    """The entry point the stack names: built once, on first use, from ``os.environ``.

    Building on first use rather than at import lets the local mode and tests import a
    handler module without a Lambda environment; a bad variable still fails the first
    invocation with its name.
    """

    def __init__(self, make: Callable[..., Handler]) -> None:
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

    def make(self, environ: Mapping[str, str], **options: Any) -> Handler:
        """A handler of this Lambda over ``environ`` (``session``/``clock`` for local runs)."""
        return self._make(environ, **options)

    def reset(self) -> None:
        """Forget the built handler: the next invocation reads the environment again."""
        with self._lock:
            self._built = None

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return self.built(event, context)


def from_process_environment(make: Callable[..., Handler]) -> FromProcessEnvironment:
    """The module-level ``handler`` of a handler module, over its factory."""
    return FromProcessEnvironment(make)


def step_lambda(name: str, work: StepWork) -> FromProcessEnvironment:
    """The entry point of the step ``name`` whose work is ``work(runtime, step_input)``."""
    from adoscale.workflow.runtime import make_step_handler  # steps only: not the poller

    return FromProcessEnvironment(functools.partial(make_step_handler, name, work))


def make_handler(name: str, environ: Mapping[str, str], **options: Any) -> Handler:
    """The handler of the Lambda ``name`` (``poller`` or a step) over ``environ``."""
    if not name.isidentifier():
        raise ValueError(f"handler: not a handler name: {name!r}")
    entry: FromProcessEnvironment = importlib.import_module(f"{__name__}.{name}").handler
    return entry.make(environ, **options)
