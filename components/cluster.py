"""AgentCluster: where one-job agent containers run, and the image they run.

An ECS cluster with FARGATE and FARGATE_SPOT, an ECR repository for the agent image, a
log group, an execution role that can pull the image, write logs and read only the PAT
secrets of the listed organisations, an empty task role, and one task definition per
agent profile from stack config.

Each task has two containers. The init container (``handover.sh`` from the agent image,
not essential, as root with every capability but CHOWN dropped and a read-only root file
system) is the only one with ECS secrets: the PAT of each listed organisation as
``AZP_PAT_<NAME>``. It writes the one the launch step names (``AZP_ORGANIZATION``) to a
task-scoped volume, readable only by the agent's user, and exits. The agent container
starts once it exited 0 (``dependsOn`` SUCCESS), with no secrets at all: ``start.sh``
reads and deletes the file. The execution role (not the task role, whose credentials
every job could use) is what reads the secrets. ``AZP_URL``, ``AZP_POOL``,
``AZP_AGENT_NAME`` and ``AZP_CAPABILITIES`` differ per queue and launch, so the launch
step passes them as RunTask container overrides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from adoscale.core import capacity
from adoscale.core.capacity import ProfileLaunch
from adoscale.core.organizations import (
    AGENT_UID,
    HANDOVER_DIRECTORY,
    INIT_CONTAINER_NAME,
    TOKEN_FILE,
    Organization,
    Organizations,
    name_from_url,
)
from components import iam
from components.config import AgentProfile
from components.ec2_capacity import Ec2Capacity, Ec2CapacityArgs, ec2_task
from components.iam import AwsContext

CONTAINER_NAME = "agent"
STOP_TIMEOUT_SECONDS = 120  # Fargate's maximum: time for a cancelled job to stop
HANDOVER_VOLUME = "pat-handover"
# Docker's default capabilities but CHOWN: all the init container needs is to give the PAT
# file to the agent's user (Fargate can drop any capability, add none but SYS_PTRACE).
INIT_DROPPED_CAPABILITIES = (
    "AUDIT_WRITE",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)


def _profile_launch(profiles: Sequence[AgentProfile], providers: Mapping[str, str]) -> str:
    """Where each profile's tasks start and how long they may boot, for the Lambdas."""
    return capacity.dumps(
        {
            profile.name: ProfileLaunch(
                capacity_provider=providers.get(profile.name) if profile.on_ec2 else None,
                boot_timeout_seconds=profile.boot_timeout_seconds,
                one_per_instance=profile.on_ec2 and profile.docker,
            )
            for profile in profiles
        }
    )


def lifecycle_policy(keep_images: int) -> str:
    """Untagged layers go after a week; at most ``keep_images`` tagged images stay."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "expire untagged images after 7 days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 7,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {keep_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


@dataclass
class AgentClusterArgs:
    context: AwsContext
    resource_prefix: str  # e.g. adoscale-dev: families and the repository are named after it
    organization_url: str
    pat_secret_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    profiles: Sequence[AgentProfile]
    log_group_name: str
    log_retention_days: int
    container_insights: str
    ecr_keep_images: int
    task_role_policy_arns: Sequence[str]
    tags: Mapping[str, str]
    # where instances of ec2 profiles run (unused when every profile is on Fargate)
    subnet_ids: pulumi.Input[Sequence[str]] = ()
    security_group_ids: pulumi.Input[Sequence[str]] = ()
    other_organizations: Sequence[Organization] = ()

    def pat_secrets(self) -> list[tuple[str, pulumi.Input[str]]]:
        """(variable, secret ARN) of every listed organisation, the stack's own first."""
        own = Organization(name_from_url(self.organization_url), self.organization_url, "-")
        Organizations([own, *self.other_organizations])  # refuses duplicates
        return [(own.pat_variable, self.pat_secret_arn)] + [
            (org.pat_variable, org.pat_secret_arn) for org in self.other_organizations
        ]


class AgentCluster(pulumi.ComponentResource):
    cluster: aws.ecs.Cluster
    repository: aws.ecr.Repository
    log_group: aws.cloudwatch.LogGroup
    execution_role: aws.iam.Role
    task_role: aws.iam.Role
    task_definitions: dict[str, aws.ecs.TaskDefinition]
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    task_definition_arns: pulumi.Output[dict[str, str]]
    profile_launch: pulumi.Output[str]  # the Lambdas' ADOSCALE_PROFILE_LAUNCH
    ec2: Ec2Capacity | None

    def __init__(
        self, name: str, args: AgentClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:cluster:AgentCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[
                aws.ecs.ClusterSettingArgs(name="containerInsights", value=args.container_insights)
            ],
            tags=tags,
            opts=child,
        )
        ec2_profiles = [profile for profile in args.profiles if profile.on_ec2]
        self.ec2 = (
            Ec2Capacity(
                f"{name}-ec2",
                Ec2CapacityArgs(
                    context=args.context,
                    resource_prefix=args.resource_prefix,
                    cluster_name=self.cluster.name,
                    cluster_arn=self.cluster.arn,
                    profiles=ec2_profiles,
                    subnet_ids=args.subnet_ids,
                    security_group_ids=args.security_group_ids,
                    tags=tags,
                ),
                opts=child,
            )
            if ec2_profiles
            else None
        )
        aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=self.cluster.name,
            capacity_providers=[
                "FARGATE",
                "FARGATE_SPOT",
                *(self.ec2.provider_names.values() if self.ec2 else ()),
            ],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE", weight=1, base=0
                )
            ],
            opts=child,
        )
        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=f"{args.resource_prefix.lower()}/agent",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=args.kms_key_arn
                )
            ],
            tags=tags,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-repository-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(args.ecr_keep_images),
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        self.execution_role = self._execution_role(name, args, tags)
        self.task_role = aws.iam.Role(
            f"{name}-task",
            description="adoscale agent tasks: no permissions unless the stack config adds some",
            assume_role_policy=iam.assume_role_policy(
                "ecs-tasks.amazonaws.com",
                source_account=args.context.account_id,
                source_arn=args.context.arn("ecs", "*"),
            ),
            tags=tags,
            opts=child,
        )
        for index, policy_arn in enumerate(args.task_role_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{name}-task-policy-{index}",
                role=self.task_role.name,
                policy_arn=policy_arn,
                opts=child,
            )
        self.task_definitions = {
            profile.name: self._task_definition(name, profile, args, tags)
            for profile in args.profiles
        }
        self.cluster_name, self.cluster_arn = self.cluster.name, self.cluster.arn
        self.repository_url = self.repository.repository_url
        self.task_definition_arns = pulumi.Output.all(
            **{profile: definition.arn for profile, definition in self.task_definitions.items()}
        )
        providers: pulumi.Output[dict[str, str]] = (
            pulumi.Output.all(**self.ec2.provider_names)
            if self.ec2
            else pulumi.Output.from_input({})
        )
        self.profile_launch = providers.apply(lambda names: _profile_launch(args.profiles, names))
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "repository_url": self.repository_url,
                "task_definition_arns": self.task_definition_arns,
            }
        )

    def task_family_arns(self) -> list[pulumi.Output[str]]:
        """Every revision of the agent task definitions, for RunTask permissions."""
        return [
            pulumi.Output.concat(definition.arn_without_revision, ":*")
            for definition in self.task_definitions.values()
        ]

    def _execution_role(
        self, name: str, args: AgentClusterArgs, tags: Mapping[str, str]
    ) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-execution",
            description="adoscale agent tasks: pull the image, write logs, read the PAT",
            assume_role_policy=iam.assume_role_policy("ecs-tasks.amazonaws.com"),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-execution",
            role=role.id,
            policy=iam.document(
                [
                    # GetAuthorizationToken has no resource-level permissions.
                    iam.allow(["ecr:GetAuthorizationToken"], ["*"]),
                    iam.allow(
                        [
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer",
                        ],
                        [self.repository.arn],
                    ),
                    iam.log_writer(self.log_group.arn),
                    iam.allow(
                        ["secretsmanager:GetSecretValue"],
                        [arn for _variable, arn in args.pat_secrets()],
                    ),
                    iam.kms_via(args.context, args.kms_key_arn, "secretsmanager", ["kms:Decrypt"]),
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role

    def _task_definition(
        self,
        name: str,
        profile: AgentProfile,
        args: AgentClusterArgs,
        tags: Mapping[str, str],
    ) -> aws.ecs.TaskDefinition:
        image = pulumi.Output.concat(self.repository.repository_url, ":", profile.image_tag)
        volume = {"sourceVolume": HANDOVER_VOLUME, "containerPath": HANDOVER_DIRECTORY}
        handover = {
            "name": INIT_CONTAINER_NAME,
            "image": image,
            "essential": False,
            "entryPoint": ["/usr/local/bin/handover.sh"],
            "user": "0",
            "readonlyRootFilesystem": True,
            "memory": 64,
            "environment": [
                {"name": "AZP_TOKEN_FILE", "value": TOKEN_FILE},
                {"name": "AZP_AGENT_UID", "value": str(AGENT_UID)},
            ],
            "secrets": [
                {"name": variable, "valueFrom": arn} for variable, arn in args.pat_secrets()
            ],
            "mountPoints": [volume],
            "logConfiguration": self._log_configuration(args, f"{profile.name}-handover"),
            "linuxParameters": {"capabilities": {"drop": list(INIT_DROPPED_CAPABILITIES)}},
        }
        container = {
            "name": CONTAINER_NAME,
            "image": image,
            "essential": True,
            "cpu": profile.cpu,
            "memory": profile.memory - 64,
            "environment": [
                {"name": "AZP_URL", "value": args.organization_url},
                {"name": "AZP_TOKEN_FILE", "value": TOKEN_FILE},
            ],
            "mountPoints": [volume],
            "dependsOn": [{"containerName": INIT_CONTAINER_NAME, "condition": "SUCCESS"}],
            "logConfiguration": self._log_configuration(args, profile.name),
            "stopTimeout": STOP_TIMEOUT_SECONDS,
            "linuxParameters": {"initProcessEnabled": True},
        }
        containers = [handover, container]
        options: dict[str, Any] = dict(
            family=f"{args.resource_prefix}-{profile.name}",
            cpu=str(profile.cpu),
            memory=str(profile.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=profile.architecture
            ),
            ephemeral_storage=aws.ecs.TaskDefinitionEphemeralStorageArgs(
                size_in_gib=profile.ephemeral_storage_gib
            ),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=HANDOVER_VOLUME)],
            tags={**tags, "adoscale:profile": profile.name},
        )
        if profile.on_ec2:
            ec2_task(profile, containers, options, CONTAINER_NAME)
        return aws.ecs.TaskDefinition(
            f"{name}-{profile.name}",
            container_definitions=pulumi.Output.json_dumps(containers),
            **options,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _log_configuration(self, args: AgentClusterArgs, prefix: str) -> dict[str, object]:
        return {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": self.log_group.name,
                "awslogs-region": args.context.region,
                "awslogs-stream-prefix": prefix,
            },
        }
