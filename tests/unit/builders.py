"""Small builders for jobs, agents and tasks, so tables stay readable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adoscale.core.models import Agent, AgentTask, JobRequest

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def waiting(request_id: int, *demands: str, minutes: float = 1.0) -> JobRequest:
    return JobRequest(request_id=request_id, queue_time=ago(minutes), demands=demands)


def taken(request_id: int, agent_id: int, *, received: bool = True) -> JobRequest:
    return JobRequest(
        request_id=request_id,
        queue_time=ago(5),
        assign_time=ago(4),
        receive_time=ago(4) if received else None,
        reserved_agent_id=agent_id,
    )


def finished(request_id: int, agent_id: int) -> JobRequest:
    return JobRequest(
        request_id=request_id,
        queue_time=ago(9),
        receive_time=ago(8),
        finish_time=ago(1),
        result="succeeded",
        reserved_agent_id=agent_id,
    )


def agent(
    agent_id: int,
    queue: str = "q",
    *,
    online: bool = True,
    enabled: bool = True,
    job: int | None = None,
    age_minutes: float = 30.0,
    name: str | None = None,
    last_job_minutes: float | None = None,
) -> Agent:
    return Agent(
        agent_id=agent_id,
        name=name or f"adoscale-{queue}-{agent_id:012x}",
        online=online,
        enabled=enabled,
        created_on=ago(age_minutes),
        assigned_request_id=job,
        last_job_finished=None if last_job_minutes is None else ago(last_job_minutes),
    )


def placeholder(agent_id: int = 999, queue: str = "q") -> Agent:
    return Agent(
        agent_id=agent_id,
        name=f"adoscale-placeholder-{queue}",
        online=False,
        enabled=True,
        created_on=ago(600),
    )


def task(
    n: int,
    queue: str = "q",
    *,
    agent_name: str | None = None,
    status: str = "PROVISIONING",
    desired: str = "RUNNING",
    age_minutes: float = 1.0,
    placeholder: bool = False,
) -> AgentTask:
    return AgentTask(
        task_arn=f"arn:aws:ecs:eu-west-1:123456789012:task/adoscale/{n:032x}",
        queue=queue,
        agent_name=agent_name if agent_name is not None else f"adoscale-{queue}-{n + 5000:012x}",
        last_status=status,
        desired_status=desired,
        created_at=ago(age_minutes),
        placeholder=placeholder,
    )
