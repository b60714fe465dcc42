"""Every error adoscale raises on purpose; one base class so callers can catch them all.

Errors that become alerts carry the alert ``kind`` they map to, so the mapping lives in
one place instead of in every ``except`` clause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar


class AdoscaleError(Exception):
    """Base of every adoscale error."""

    kind: ClassVar[str] = "internal_error"


class ConfigError(AdoscaleError):
    """An environment variable is missing or malformed; names the variable."""

    kind: ClassVar[str] = "config_error"

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class QueueConfigError(AdoscaleError):
    """A queue item breaks the queue item schema; ``errors`` maps each bad field to its messages."""

    kind: ClassVar[str] = "invalid_queue_config"

    def __init__(self, queue: str | None, errors: Mapping[str, Sequence[str]]) -> None:
        self.queue = queue
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__(f"queue {queue or '<unnamed>'}: {self.describe()}")

    def lines(self) -> list[str]:
        """One line per field error, as the CLI prints them."""
        return [
            f"{field}: {message}"
            for field, messages in sorted(self.errors.items())
            for message in messages
        ]

    def describe(self) -> str:
        return "; ".join(self.lines())


class AdoError(AdoscaleError):
    """An Azure DevOps call failed; subclasses say how."""

    kind: ClassVar[str] = "ado_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AdoAuthError(AdoError):
    """401, 203 or an HTML sign-in page: the PAT is wrong, expired or lacks scope."""

    kind: ClassVar[str] = "ado_auth"


class AdoRateLimitedError(AdoError):
    """429 that could not be waited out within the time left."""

    kind: ClassVar[str] = "ado_rate_limited"

    def __init__(
        self, message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class AdoUnavailableError(AdoError):
    """5xx, timeouts and connection errors that outlasted the retries."""

    kind: ClassVar[str] = "ado_unavailable"


class AdoPoolNotFoundError(AdoError):
    """No pool, or several, carry the queue's pool name."""

    kind: ClassVar[str] = "ado_pool_not_found"


class AdoAgentNotFoundError(AdoPoolNotFoundError):
    """The pool exists but the agent does not (ADO's 404 ``TaskAgentNotFoundException``)."""

    kind: ClassVar[str] = "ado_agent_not_found"


class AdoBadResponseError(AdoError):
    """A 2xx whose body is not the JSON shape the API documents, or an unexpected 4xx."""

    kind: ClassVar[str] = "ado_bad_response"


class AdoAgentBusyError(AdoError):
    """Azure DevOps refused to delete an agent because it is running a job."""

    kind: ClassVar[str] = "ado_agent_busy"


class WorkflowInputError(AdoscaleError):
    """A state machine execution started with input that breaks its contract."""

    kind: ClassVar[str] = "workflow_failed"


class InputError(AdoscaleError):
    """A file an operator gave (queue items, a scenario) is unreadable or breaks its format.

    ``problems`` holds one line per error, each naming the item or field, as the CLI prints them.
    """

    kind: ClassVar[str] = "invalid_input"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class AwsUnavailableError(AdoscaleError):
    """An AWS call was throttled, timed out or met a 5xx after botocore's own retries.

    Step handlers raise it in place of botocore's errors so the state machine's Retry can
    name one transient error type instead of every service's exception classes.
    """

    kind: ClassVar[str] = "aws_unavailable"


class PartialWriteError(AdoscaleError):
    """An all-or-nothing write failed and undoing its earlier part failed too.

    Carries both errors and exactly which items are left holding the new values, so the
    operator can put the file again or repair those items by name.
    """

    kind: ClassVar[str] = "partial_write"

    def __init__(
        self, original: BaseException, undo_error: BaseException, left_written: Sequence[str]
    ) -> None:
        self.original = original
        self.undo_error = undo_error
        self.left_written = list(left_written)
        super().__init__(
            f"the write failed ({original}) and undoing it failed too ({undo_error}): "
            f"{len(self.left_written)} item(s) are left written: {', '.join(self.left_written)}"
        )
