"""The service-hook endpoint in the stack: a public function URL guarded by generated Basic
credentials in Secrets Manager, a scoped role, its outputs, and the switch that leaves it out."""

from __future__ import annotations

import json

from adoscale.core.settings import load_settings
from adoscale.poller.hook import HOOK_REQUIRED
from tests.infra.conftest import SCENARIOS, ProgramRun, cached_run, secret_paths
from tests.infra.test_stack import actions_of, function, policy_of


def test_the_endpoint_is_a_public_function_url_of_the_hook_handler(full_stack: ProgramRun) -> None:
    hook = function(full_stack, "hook")
    assert hook.inputs["handler"] == "adoscale.handlers.hook.handler"
    (url,) = full_stack.of_type("aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "NONE"
    assert url.inputs["functionName"] == hook.state["name"]
    permissions = {
        p.inputs["action"]: p.inputs
        for p in full_stack.of_type("aws:lambda/permission:Permission")
        if p.inputs.get("function") == hook.state["name"]
    }
    assert permissions["lambda:InvokeFunctionUrl"]["functionUrlAuthType"] == "NONE"
    assert permissions["lambda:InvokeFunction"]["invokedViaFunctionUrl"] is True
    assert hook.inputs["reservedConcurrentExecutions"] >= 1
    assert full_stack.outputs["hook_url"] == url.state.get("functionUrl")


def test_the_credentials_are_generated_secret_and_named_by_arn_only(full_stack: ProgramRun) -> None:
    secret = full_stack.named("hook-secret", "Secret")
    version = full_stack.named("hook-credentials", "SecretVersion")
    assert list(secret_paths(version.raw_inputs)) == [".secretString"]
    (password,) = full_stack.of_type("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32
    assert full_stack.outputs["hook_secret_arn"] == secret.arn
    variables = function(full_stack, "hook").inputs["environment"]["variables"]
    assert variables["ADOSCALE_HOOK_SECRET_ARN"] == secret.arn
    assert not [name for name in variables if "PASSWORD" in name or "TOKEN" in name]
    settings = load_settings(variables, HOOK_REQUIRED)  # the handler's own parser
    assert settings.hook_secret_arn == secret.arn


def test_the_hook_role_reads_its_secret_marks_the_state_table_and_starts_executions(
    full_stack: ProgramRun,
) -> None:
    statements = policy_of(full_stack, "hook-policy")
    actions = actions_of(statements)
    assert {"secretsmanager:GetSecretValue", "states:StartExecution", "dynamodb:PutItem"} <= actions
    assert "cloudwatch:PutMetricData" not in actions  # the scheduled poller publishes
    assert not any(a.endswith("*") for a in actions)
    hook_secret = full_stack.named("hook-secret", "Secret").arn
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    resources = {r for s in reads for r in s["Resource"]}
    assert hook_secret in resources
    # the poller never reads the hook's credentials
    assert hook_secret not in json.dumps(policy_of(full_stack, "poller-policy"))


def test_the_switch_leaves_the_endpoint_out() -> None:
    run = cached_run({**SCENARIOS["nat"], "adoscale:serviceHook": "false"})
    assert run.of_type("aws:lambda/functionUrl:FunctionUrl") == []
    assert run.of_type("random:index/randomPassword:RandomPassword") == []
    assert "hook_url" not in run.outputs
    assert "hook_secret_arn" not in run.outputs
