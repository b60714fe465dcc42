"""The JSON Azure DevOps sends, built from the fake organisation's records.

Kept apart from the server so the shapes (pinned by ``tests/fixtures/ado``) read in one
place: unset fields omitted, times in .NET's round-trip format with 'Z', lists wrapped
as ``{"count", "value"}``, errors in the service's error envelope.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.core.demands import demands_met

AGENT_VERSION = "4.255.0"
SERVICE_OWNER = "00025394-6065-48ca-87d9-7f5672854ef7"  # the Build service, as ADO sends it
LOCK_DURATION = timedelta(minutes=10)
STRIPPED_KEYS = frozenset({"id", "requestId", "name", "status", "totalCount"})
SIGN_IN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Azure DevOps Services | Sign In</title>"
    '<meta http-equiv="X-UA-Compatible" content="IE=11;&#32;IE=10;&#32;IE=9;&#32;IE=8" />'
    '</head><body><div class="signin">Sign in to continue to Azure DevOps</div>'
    "</body></html>\n"
)


@dataclass
class PoolRecord:
    """One pool of the fake organisation (mutable; guarded by the server's lock)."""

    id: int
    name: str
    is_hosted: bool
    created_on: datetime
    agent_ids: list[int] = field(default_factory=list)


@dataclass
class AgentRecord:
    """One registered agent; ``capabilities`` are the system capabilities it reports."""

    id: int
    pool_id: int
    name: str
    online: bool
    enabled: bool
    capabilities: dict[str, str]
    user_capabilities: dict[str, str]
    version: str
    created_on: datetime
    status_changed_on: datetime
    assigned_request_id: int | None = None
    last_completed_request_id: int | None = None


@dataclass
class JobRecord:
    """One job request, from queued to finished."""

    request_id: int
    pool_id: int
    demands: tuple[str, ...]
    queue_time: datetime
    definition_id: int
    definition_name: str
    build_id: int
    plan_type: str = "Build"
    assign_time: datetime | None = None
    receive_time: datetime | None = None
    finish_time: datetime | None = None
    result: str | None = None
    reserved_agent_id: int | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def waiting(self) -> bool:
        return not self.finished and self.reserved_agent_id is None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def iso(moment: datetime) -> str:
    """.NET's round-trip format as ADO sends it: up to 7 fraction digits, zeros trimmed, Z."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}0".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def guid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "adoscale-fake:" + ":".join(map(str, parts))))


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    merged = {"Content-Type": "application/json; charset=utf-8; api-version=7.1"}
    merged.update(headers or {})
    return Reply(status, body, merged)


def error_reply(status: int, type_key: str, message: str, namespace: str) -> Reply:
    return json_reply(
        status,
        {
            "$id": "1",
            "innerException": None,
            "message": message,
            "typeName": f"{namespace}.{type_key}, {namespace}",
            "typeKey": type_key,
            "errorCode": 0,
            "eventId": 3000,
        },
    )


DT = "Microsoft.TeamFoundation.DistributedTask.WebApi"
FW = "Microsoft.TeamFoundation.Framework.Server"
VSS = "Microsoft.VisualStudio.Services.WebApi"


def listing(items: list[Any]) -> dict[str, Any]:
    return {"count": len(items), "value": items}


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in STRIPPED_KEYS}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


class Shapes:
    """Renders the fake's records; reads the same dicts the server mutates (under its lock)."""

    def __init__(
        self,
        org: str,
        base_url: Callable[[], str],
        pools: dict[int, PoolRecord],
        agents: dict[int, AgentRecord],
        jobs: dict[int, JobRecord],
    ) -> None:
        self.org = org
        self._base_url = base_url
        self._pools = pools
        self._agents = agents
        self._jobs = jobs

    @property
    def base_url(self) -> str:
        return self._base_url()

    def private_limit(self, total: int | None) -> dict[str, Any]:
        limit: dict[str, Any] = {
            "parallelismTag": "Private",
            "isHosted": False,
            "hostId": guid("host", self.org),
        }
        if total is not None:
            limit["totalCount"] = total
        limit["isPremium"] = False
        return limit

    def hosted_limit(self) -> dict[str, Any]:
        return {
            "parallelismTag": "Private",
            "isHosted": True,
            "hostId": guid("host", self.org),
            "totalCount": 1,
            "totalMinutes": 1800,
            "isPremium": False,
        }

    def identity(self) -> dict[str, Any]:
        identity_id = guid("identity", self.org)
        avatar = f"{self.base_url}/_apis/GraphProfile/MemberAvatars/aad.{identity_id}"
        return {
            "displayName": "Fake Administrator",
            "url": f"https://spsprodweu5.vssps.visualstudio.com/_apis/Identities/{identity_id}",
            "_links": {"avatar": {"href": avatar}},
            "id": identity_id,
            "uniqueName": "admin@example.com",
            "imageUrl": avatar,
            "descriptor": f"aad.{identity_id}",
        }

    def pool_json(self, pool: PoolRecord) -> dict[str, Any]:
        return {
            "createdOn": iso(pool.created_on),
            "autoProvision": False,
            "autoUpdate": True,
            "autoSize": True,
            "createdBy": self.identity(),
            "owner": self.identity(),
            "id": pool.id,
            "scope": guid("scope", self.org),
            "name": pool.name,
            "isHosted": pool.is_hosted,
            "poolType": "automation",
            "size": len(pool.agent_ids),
            "isLegacy": False,
            "options": "none",
        }

    def agent_links(self, agent: AgentRecord) -> dict[str, Any]:
        return {
            "self": {
                "href": f"{self.base_url}/_apis/distributedtask/pools/{agent.pool_id}"
                f"/agents/{agent.id}"
            },
            "web": {
                "href": f"{self.base_url}/_settings/agentpools?view=jobs"
                f"&poolId={agent.pool_id}&agentId={agent.id}"
            },
        }

    def agent_ref(self, agent: AgentRecord, *, full: bool) -> dict[str, Any]:
        """TaskAgentReference: ``reservedAgent`` (full) or ``matchedAgents`` items."""
        ref: dict[str, Any] = {
            "_links": self.agent_links(agent),
            "id": agent.id,
            "name": agent.name,
            "version": agent.version,
        }
        if full:
            ref["osDescription"] = "Linux 6.1.0-1 #1 SMP x86_64"
        ref.update(
            {
                "enabled": agent.enabled,
                "status": "online" if agent.online else "offline",
                "provisioningState": "Provisioned",
            }
        )
        if full:
            ref["accessPoint"] = "CodexAccessMapping"
        return ref

    def agent_json(
        self, agent: AgentRecord, assigned: bool, last_completed: bool, capabilities: bool
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "_links": self.agent_links(agent),
            "maxParallelism": 1,
            "createdOn": iso(agent.created_on),
            "statusChangedOn": iso(agent.status_changed_on),
            "authorization": {
                "clientId": guid("client", agent.id),
                "publicKey": {"exponent": "AQAB", "modulus": "yP3w0fakeModulus0000000000000000w=="},
            },
        }
        if assigned and agent.assigned_request_id is not None:
            data["assignedRequest"] = self.job_json(
                self._jobs[agent.assigned_request_id], matched=False, reserved=False
            )
        if last_completed and agent.last_completed_request_id in self._jobs:
            data["lastCompletedRequest"] = self.job_json(
                self._jobs[agent.last_completed_request_id], matched=False, reserved=False
            )
        if capabilities:
            data["systemCapabilities"] = dict(agent.capabilities)
            if agent.user_capabilities:
                data["userCapabilities"] = dict(agent.user_capabilities)
        data.update({k: v for k, v in self.agent_ref(agent, full=True).items() if k != "_links"})
        return data

    def job_json(self, job: JobRecord, *, matched: bool, reserved: bool = True) -> dict[str, Any]:
        plan_id = guid("plan", job.request_id)
        project = guid("project", self.org)
        data: dict[str, Any] = {"requestId": job.request_id, "queueTime": iso(job.queue_time)}
        if job.assign_time is not None:
            data["assignTime"] = iso(job.assign_time)
        if job.receive_time is not None:
            data["receiveTime"] = iso(job.receive_time)
            data["lockedUntil"] = iso(job.receive_time + LOCK_DURATION)
        if job.finish_time is not None:
            data["finishTime"] = iso(job.finish_time)
        if job.result is not None:
            data["result"] = job.result
        data.update(
            {
                "serviceOwner": SERVICE_OWNER,
                "hostId": guid("host", self.org),
                "scopeId": project,
                "planType": job.plan_type,
                "planId": plan_id,
                "jobId": guid("job", job.request_id),
                "demands": list(job.demands),
            }
        )
        if reserved and job.reserved_agent_id in self._agents:
            data["reservedAgent"] = self.agent_ref(self._agents[job.reserved_agent_id], full=True)
        if matched and job.waiting:
            data["matchedAgents"] = [
                self.agent_ref(a, full=False) for a in self.matched_agents(job)
            ]
        web = f"{self.base_url}/{project}/_build"
        api = f"{self.base_url}/{project}/_apis/build"
        data.update(
            {
                "definition": {
                    "_links": {
                        "web": {"href": f"{web}/definition?definitionId={job.definition_id}"},
                        "self": {"href": f"{api}/Definitions/{job.definition_id}"},
                    },
                    "id": job.definition_id,
                    "name": job.definition_name,
                },
                "owner": {
                    "_links": {
                        "web": {"href": f"{web}/results?buildId={job.build_id}"},
                        "self": {"href": f"{api}/Builds/{job.build_id}"},
                    },
                    "id": job.build_id,
                    "name": f"{job.queue_time:%Y%m%d}.{job.request_id % 100}",
                },
                "data": {"ParallelismTag": "Private", "IsScheduledKey": "False"},
                "poolId": job.pool_id,
                "orchestrationId": f"{plan_id}.build.__default",
                "priority": 0,
            }
        )
        return data

    def matched_agents(self, job: JobRecord) -> list[AgentRecord]:
        """Agents whose capabilities meet the job's demands, whatever their status."""
        pool = self._pools.get(job.pool_id)
        return [
            self._agents[a]
            for a in (pool.agent_ids if pool is not None else ())
            if demands_met(job.demands, self._agents[a].capabilities)
        ]
