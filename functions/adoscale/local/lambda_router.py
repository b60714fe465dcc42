"""Run the real adoscale handlers when moto's Step Functions engine invokes a Lambda.

moto executes state machine definitions, but its Lambda backend without Docker only
echoes the payload. ``LambdaRouter`` answers the invocations of functions whose handler
is an ``adoscale.handlers.*`` entry point: it builds that function's handler with
``adoscale.handlers.make_handler(name, environment)`` from the function's own variables
(a cold start), keeps it warm for the next invocations, calls it in this process, and
answers the way Lambda does (the handler's JSON, or ``X-Amz-Function-Error: Unhandled``
with ``errorType``/``errorMessage``, which the engine turns into the state's error name
for Retry and Catch). Every other function keeps moto's behaviour. No module is
re-imported and the process environment is never changed, so routed handlers are safe to
run from several threads.

The one adapter to moto: moto has no public hook for running Lambda code without Docker,
so ``install`` wraps ``invoke`` of its Lambda backends (the point where ``mock_aws`` in
process and a ``ThreadedMotoServer`` in the same process both end up). That method's
signature is moto's, which is why pyproject pins moto to one exact version; a moto
upgrade is checked by ``tests/functional/test_workflow_router.py``.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.awslambda_simple.models import LambdaSimpleBackend

from adoscale.handlers import Handler, make_handler

HANDLER_PREFIX = "adoscale.handlers."
_PATCHED: tuple[Any, ...] = (LambdaBackend, LambdaSimpleBackend)


@dataclass(frozen=True)
class Invocation:
    """One routed invocation: which handler, how long it ran, how it ended."""

    function_name: str
    handler: str
    seconds: float
    error_type: str | None = None


class LambdaContext:
    """The parts of Lambda's context object the handlers read."""

    def __init__(self, function: Any) -> None:
        self.function_name: str = function.function_name
        self.invoked_function_arn: str = function.function_arn
        self.memory_limit_in_mb: int = int(function.memory_size or 128)
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + float(function.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaRouter:
    """Install with ``with LambdaRouter() as router:``; ``router.invocations`` records calls."""

    def __init__(self, prefix: str = HANDLER_PREFIX) -> None:
        self.prefix = prefix
        self.invocations: list[Invocation] = []
        self._handlers: dict[tuple[Any, ...], Handler] = {}
        self._lock = threading.RLock()
        self._originals: dict[Any, Any] = {}

    def __enter__(self) -> LambdaRouter:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def install(self) -> None:
        if self._originals:
            return
        for backend_class in _PATCHED:
            original = backend_class.__dict__["invoke"]
            self._originals[backend_class] = original
            backend_class.invoke = self._wrap(original)

    def uninstall(self) -> None:
        for backend_class, original in self._originals.items():
            backend_class.invoke = original
        self._originals.clear()
        with self._lock:
            self._handlers.clear()

    def handler_seconds(self) -> float:
        """Total time spent inside routed handlers."""
        with self._lock:
            return sum(call.seconds for call in self.invocations)

    def handler(self, function_arn: str) -> Any:
        """The warm handler that serves this function, built now if need be.

        Tests reach a step's warm clients through it (``handler.runtime.clients``), e.g.
        to register a botocore event hook before the engine first invokes the step.
        """
        from moto.awslambda.utils import get_backend

        parts = function_arn.split(":")
        if len(parts) < 7 or parts[2] != "lambda":
            raise ValueError(f"function_arn: not a Lambda function ARN: {function_arn!r}")
        function = get_backend(parts[4], parts[3]).get_function(parts[6], None)
        return self._handler(function)

    # ---- the hook --------------------------------------------------------------------

    def _wrap(self, original: Any) -> Any:
        router = self

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            function = backend.get_function(function_name, qualifier)
            if not str(function.handler or "").startswith(router.prefix):
                return original(backend, function_name, qualifier, body, headers, response_headers)
            payload = router._run(function, body, response_headers)
            response_headers["Content-Length"] = str(len(payload))
            return payload

        return invoke

    def _run(self, function: Any, body: Any, response_headers: Any) -> bytes:
        started = time.perf_counter()
        error_type: str | None = None
        try:
            handler = self._handler(function)
            event = json.loads(body) if body else {}
            payload = json.dumps(handler(event, LambdaContext(function)), default=str)
        except Exception as error:  # noqa: BLE001 - Lambda reports every error to the caller
            error_type = type(error).__name__
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorType": error_type,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            )
        finally:
            seconds = time.perf_counter() - started
        with self._lock:
            self.invocations.append(
                Invocation(function.function_name, str(function.handler), seconds, error_type)
            )
        return payload.encode("utf-8")

    def _handler(self, function: Any) -> Handler:
        """One handler per function and environment, as one warm Lambda container."""
        module_name, _, attribute = str(function.handler).rpartition(".")
        name = module_name.removeprefix(self.prefix)
        if attribute != "handler" or not name or "." in name:
            raise ModuleNotFoundError(f"handler {function.handler} is not an adoscale handler")
        # What the Lambda runtime sets (the region), then the function's own variables.
        environment = {"AWS_REGION": str(function.region), **(function.environment_vars or {})}
        key = (function.function_arn, name, tuple(sorted(environment.items())))
        with self._lock:
            if key not in self._handlers:
                self._handlers[key] = make_handler(name, environment)
            return self._handlers[key]
