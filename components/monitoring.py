"""Monitoring: stack-level alarms to the alert topic, and a dashboard.

Alarms watch stack totals (metrics without a dimension), the poller Lambda
and the state machine, so a queue added at run time needs no new alarm. The dashboard's
per-queue widgets are CloudWatch SEARCH expressions over the ``Queue`` dimension for the
same reason: a new queue item shows up on the next poll, without a deploy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# The per-queue metrics the poller publishes (``adoscale.aws.metrics.QUEUE_METRICS``), only for
# queues active within the last hour: a quiet queue drops off these widgets.
PER_QUEUE_WIDGETS = (
    ("Waiting jobs per queue (active queues)", ("QueuedJobs",), "Maximum"),
    ("Agents per queue: busy, idle (active queues)", ("BusyAgents", "IdleAgents"), "Maximum"),
)
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")


def search_expression(namespace: str, metric: str, statistic: str, period: int = 60) -> str:
    """``SEARCH('{NS,Queue} MetricName="M"', 'Stat', period)``; odd namespaces are quoted."""
    schema_ns = namespace if _PLAIN_NAME.match(namespace) else f'"{namespace}"'
    return f"SEARCH('{{{schema_ns},Queue}} MetricName=\"{metric}\"', '{statistic}', {period})"


@dataclass
class MonitoringArgs:
    namespace: str
    topic_arn: pulumi.Input[str]
    poller_function_name: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    dashboard_name: str
    alarm_prefix: str
    oldest_job_age_seconds: int
    rate_limit_remaining: int
    region: pulumi.Input[str]
    tags: Mapping[str, str]


class Monitoring(pulumi.ComponentResource):
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:monitoring:Monitoring", name, None, opts)
        self._name, self._args = name, args
        ns = args.namespace
        poller = {"FunctionName": args.poller_function_name}
        machine = {"StateMachineArn": args.state_machine_arn}
        self.alarms = {
            "oldest-queued-job-age": self._alarm(
                "oldest-queued-job-age",
                f"A job has waited more than {args.oldest_job_age_seconds} s for an agent",
                ns,
                "OldestQueuedJobAgeSeconds",
                "Maximum",
                "GreaterThanThreshold",
                args.oldest_job_age_seconds,
                periods=5,
                datapoints=3,
            ),
            "ado-api-errors": self._alarm(
                "ado-api-errors",
                "Azure DevOps calls failed in 3 of the last 5 minutes (auth, rate limit, outage)",
                ns,
                "AdoApiErrors",
                "Sum",
                "GreaterThanThreshold",
                0,
                periods=5,
                datapoints=3,
            ),
            "invalid-queue-configs": self._alarm(
                "invalid-queue-configs",
                "At least one queue item in the table is invalid and is being skipped",
                ns,
                "InvalidQueueConfigs",
                "Maximum",
                "GreaterThanThreshold",
                0,
                periods=1,
                datapoints=1,
                period=300,
            ),
            "poller-errors": self._alarm(
                "poller-errors",
                "The poller Lambda failed in 3 of the last 5 minutes",
                "AWS/Lambda",
                "Errors",
                "Sum",
                "GreaterThanThreshold",
                0,
                periods=5,
                datapoints=3,
                dimensions=poller,
            ),
            "poller-throttles": self._alarm(
                "poller-throttles",
                "Polls were throttled in 3 of the last 5 minutes (a poll outlasts the minute)",
                "AWS/Lambda",
                "Throttles",
                "Sum",
                "GreaterThanThreshold",
                0,
                periods=5,
                datapoints=3,
                dimensions=poller,
            ),
            "executions-failed": self._alarm(
                "executions-failed",
                "A scaling execution failed",
                "AWS/States",
                "ExecutionsFailed",
                "Sum",
                "GreaterThanThreshold",
                0,
                periods=1,
                datapoints=1,
                period=300,
                dimensions=machine,
            ),
            "rate-limit-remaining": self._alarm(
                "rate-limit-remaining",
                f"Azure DevOps rate limit: fewer than {args.rate_limit_remaining} TSTUs left",
                ns,
                "AdoRateLimitRemaining",
                "Minimum",
                "LessThanThreshold",
                args.rate_limit_remaining,
                periods=3,
                datapoints=2,
            ),
        }
        body = pulumi.Output.all(
            region=args.region,
            function=args.poller_function_name,
            machine=args.state_machine_arn,
            alarms=pulumi.Output.all(*[alarm.arn for alarm in self.alarms.values()]),
        ).apply(lambda values: json.dumps(dashboard_body(ns, **values), indent=1))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_url = pulumi.Output.concat(
            "https://",
            args.region,
            ".console.aws.amazon.com/cloudwatch/home?region=",
            args.region,
            "#dashboards/dashboard/",
            self.dashboard.dashboard_name,
        )
        self.register_outputs({"dashboard_url": self.dashboard_url})

    def _alarm(
        self,
        key: str,
        description: str,
        namespace: str,
        metric: str,
        statistic: str,
        comparison: str,
        threshold: float,
        *,
        periods: int,
        datapoints: int,
        period: int = 60,
        dimensions: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            name=f"{args.alarm_prefix}-{key}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            statistic=statistic,
            dimensions=dict(dimensions) if dimensions else None,
            comparison_operator=comparison,
            threshold=threshold,
            period=period,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data="notBreaching",
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )


def dashboard_body(
    namespace: str, *, region: str, function: str, machine: str, alarms: list[str]
) -> dict[str, Any]:
    """The dashboard JSON; per-queue widgets are SEARCH expressions."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "width": 24,
            "height": 2,
            "properties": {
                "markdown": "## adoscale\nPer-queue widgets use SEARCH and show the queues "
                "active within the last hour (only those publish per-queue metrics)."
            },
        },
        {
            "type": "alarm",
            "width": 24,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": alarms},
        },
    ]
    for title, metrics, statistic in PER_QUEUE_WIDGETS:
        widgets.append(
            {
                "type": "metric",
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": region,
                    "view": "timeSeries",
                    "period": 60,
                    "metrics": [
                        [
                            {
                                "expression": search_expression(namespace, metric, statistic),
                                "id": f"e{index}",
                            }
                        ]
                        for index, metric in enumerate(metrics)
                    ],
                },
            }
        )
    widgets.extend(
        [
            _metric_widget(
                "Stack totals",
                region,
                [
                    [namespace, "QueuedJobs", {"stat": "Maximum"}],
                    [namespace, "StartingAgents", {"stat": "Maximum"}],
                    [namespace, "OldestQueuedJobAgeSeconds", {"stat": "Maximum"}],
                    [namespace, "AdoApiErrors", {"stat": "Sum"}],
                    [namespace, "InvalidQueueConfigs", {"stat": "Maximum"}],
                    [namespace, "AdoRateLimitRemaining", {"stat": "Minimum", "yAxis": "right"}],
                ],
            ),
            _metric_widget(
                "Poller",
                region,
                [
                    ["AWS/Lambda", name, "FunctionName", function, {"stat": stat}]
                    for name, stat in (
                        ("Invocations", "Sum"),
                        ("Errors", "Sum"),
                        ("Throttles", "Sum"),
                        ("Duration", "Maximum"),
                    )
                ],
            ),
            _metric_widget(
                "Scaling executions",
                region,
                [
                    ["AWS/States", name, "StateMachineArn", machine, {"stat": "Sum"}]
                    for name in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed")
                ],
            ),
        ]
    )
    return {"widgets": widgets}


def _metric_widget(title: str, region: str, metrics: list[list[Any]]) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 8,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "period": 60,
            "metrics": metrics,
        },
    }
