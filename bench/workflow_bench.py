"""Benchmark: one scale_out execution that launches 50 agents, against moto.

Target (issue 3): deciding and launching 50 agents in one execution takes at most 5 s of
handler time. The state machine really executes in moto's Step Functions engine; its
Lambda invocations run the real handlers in process (``LambdaRouter``), which times each
one. Waits are set to 0 s: they are not handler time. A watcher thread plays Fargate:
each new task registers its agent in the fake Azure DevOps, so verify finds them all.

Two executions are measured: the first on cold handlers (module import, boto3 clients,
PAT read: what a Lambda cold start pays) and a second, warm one for another queue.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from typing import Any

AGENTS = 50
TARGET_SECONDS = 5.0
PAT = "bench-pat-0123456789"
CREDENTIALS = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def run() -> dict[str, Any]:
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)

    import boto3
    from moto import mock_aws
    from moto.moto_api import state_manager

    from adoscale.local.ado_server import FakeAdoServer
    from adoscale.local.lambda_router import LambdaRouter
    from adoscale.local.workflow_stack import MOTO_CONFIG, create_workflow_stack

    # moto walks a task to STOPPED a step per describe; real tasks run until stopped
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    results: dict[str, Any] = {"agents": AGENTS, "target_seconds": TARGET_SECONDS}
    try:
        with (
            FakeAdoServer(pat=PAT) as ado,
            mock_aws(config=MOTO_CONFIG),
            LambdaRouter() as router,
        ):
            session = boto3.session.Session(region_name=CREDENTIALS["AWS_DEFAULT_REGION"])
            stack = create_workflow_stack(session, org_url=ado.base_url, pat=PAT)
            for label in ("cold", "warm"):
                queue = f"bench-{label}"
                ado.add_pool(queue)
                stack.put_queue({"queue": queue, "pool": queue, "max_agents": 100})
                results[label] = _one_execution(stack, ado, router, queue)
    finally:
        state_manager.unset_transition("ecs::task")
    cold = results["cold"]
    results["summary"] = {
        "handler_seconds_cold": cold["handler_seconds"],
        "handler_seconds_warm": results["warm"]["handler_seconds"],
        "launch_seconds_cold": cold["per_step"]["launch"],
        "agents_launched": cold["launched"],
        "target_met": cold["handler_seconds"] <= TARGET_SECONDS,
    }
    return results


def _one_execution(stack: Any, ado: Any, router: Any, queue: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    from adoscale.aws.ecs import AgentTasks
    from adoscale.core.request import ScalingRequest

    pool_id = ado.pool_id(queue)
    tasks = AgentTasks(stack.client("ecs"), stack.env["ADOSCALE_CLUSTER"])
    stop = threading.Event()
    registered: set[str] = set()

    def fargate() -> None:
        while not stop.is_set():
            for task in tasks.tasks_of(queue):
                if task.agent_name and task.agent_name not in registered:
                    ado.register_agent(queue, task.agent_name)
                    registered.add(task.agent_name)
            time.sleep(0.05)

    watcher = threading.Thread(target=fargate, daemon=True)
    first_call = len(router.invocations)
    request = ScalingRequest(
        queue=queue,
        action="scale_out",
        count=AGENTS,
        pool_id=pool_id,
        requested_at=datetime.now(UTC).isoformat(),
    )
    started = time.perf_counter()
    watcher.start()
    try:
        execution = stack.run(request, timeout=120)
    finally:
        stop.set()
        watcher.join(timeout=5)
    wall = time.perf_counter() - started
    if execution["status"] != "SUCCEEDED":
        raise RuntimeError(f"execution ended {execution['status']}: {execution.get('cause')}")
    per_step: dict[str, float] = defaultdict(float)
    calls = router.invocations[first_call:]
    for call in calls:
        per_step[call.handler.split(".")[2]] += call.seconds
    return {
        "launched": execution["output"]["launch"]["launched"],
        "handler_seconds": round(sum(call.seconds for call in calls), 3),
        "per_step": {step: round(seconds, 3) for step, seconds in sorted(per_step.items())},
        "invocations": len(calls),
        "execution_wall_seconds": round(wall, 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
