"""Run the real adoscale handlers when moto's Step Functions engine invokes a Lambda.

moto executes state machine definitions, but its Lambda backend without Docker only
echoes the payload. ``LambdaRouter`` patches the backend's ``invoke`` so a function whose
handler is an ``adoscale.handlers.*`` entry point runs in this process, with that
function's environment variables, and answers the way Lambda does (the handler's JSON,
or ``X-Amz-Function-Error: Unhandled`` with ``errorType``/``errorMessage``, which the
engine turns into the state's error name for Retry and Catch). Every other function
keeps moto's behaviour.

The hook sits below moto's HTTP layer, so it serves ``mock_aws`` in process and a
``ThreadedMotoServer`` in the same process alike (the engine calls Lambda over HTTP on
``MOTO_PORT`` there). Each function gets its own copy of its handler module, imported
with the function's environment, as a Lambda container would: module-level settings
are per function, and the cache is dropped when the router is uninstalled.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.awslambda_simple.models import LambdaSimpleBackend

HANDLER_PREFIX = "adoscale.handlers."
_PATCHED = (LambdaBackend, LambdaSimpleBackend)


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
        self._modules: dict[tuple[Any, ...], ModuleType] = {}
        self._lock = threading.RLock()
        self._originals: dict[type, Any] = {}

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
            backend_class.invoke = self._wrap(original)  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for backend_class, original in self._originals.items():
            backend_class.invoke = original  # type: ignore[method-assign]
        self._originals.clear()
        with self._lock:
            self._modules.clear()

    def handler_seconds(self) -> float:
        """Total time spent inside routed handlers."""
        with self._lock:
            return sum(call.seconds for call in self.invocations)

    def module(self, function_arn: str) -> ModuleType:
        """The handler module copy that serves this function, imported now if need be.

        Tests reach a step's warm clients through it (``module.RUNTIME.clients``), e.g. to
        register a botocore event hook before the engine first invokes the step.
        """
        from moto.awslambda.utils import get_backend

        parts = function_arn.split(":")
        if len(parts) < 7 or parts[2] != "lambda":
            raise ValueError(f"function_arn: not a Lambda function ARN: {function_arn!r}")
        function = get_backend(parts[4], parts[3]).get_function(parts[6], None)
        return self._module(function, str(function.handler).rpartition(".")[0])

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
        module_name, _, attribute = str(function.handler).rpartition(".")
        started = time.perf_counter()
        error_type: str | None = None
        try:
            module = self._module(function, module_name)
            event = json.loads(body) if body else {}
            result = getattr(module, attribute)(event, LambdaContext(function))
            payload = json.dumps(result, default=str)
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

    def _module(self, function: Any, module_name: str) -> ModuleType:
        # What the Lambda runtime sets (the region), then the function's own variables.
        environment = {"AWS_REGION": str(function.region), **(function.environment_vars or {})}
        key = (function.function_arn, module_name, tuple(sorted(environment.items())))
        with self._lock:
            if key not in self._modules:
                self._modules[key] = _fresh_import(module_name, environment, len(self._modules))
            return self._modules[key]


def _fresh_import(module_name: str, environment: Mapping[str, str], serial: int) -> ModuleType:
    """A private copy of the module, executed with ``environment`` applied (a cold start)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"handler module {module_name} not found")
    copy_spec = importlib.util.spec_from_file_location(
        f"{module_name}__routed{serial}", spec.origin
    )
    if copy_spec is None or copy_spec.loader is None:
        raise ModuleNotFoundError(f"handler module {module_name} cannot be loaded")
    module = importlib.util.module_from_spec(copy_spec)
    with _environment(environment):
        copy_spec.loader.exec_module(module)
    return module


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
