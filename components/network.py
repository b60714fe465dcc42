"""Network: where agent tasks run, and their egress-only security group.

Three modes (config ``adoscale:network.mode``):

- ``existing``: the operator's subnets; their security groups, or an egress-only group
  created in ``vpcId``.
- ``nat``: a new VPC with a public and a private subnet in each of two zones and one NAT
  gateway; agents run in the private subnets and reach Azure DevOps through the NAT.
- ``endpoints``: the shared-services option: a new VPC with private subnets only, interface
  endpoints for ecr.api, ecr.dkr, logs, secretsmanager and sts, and an S3 gateway endpoint
  (image layers), so AWS traffic never leaves the VPC (with agent profiles on ec2
  capacity, also ecs, ecs-agent, ecs-telemetry, ssm and ssmmessages for the instances).
  Azure DevOps is reached through the route the operator adds (transit gateway, proxy);
  this VPC has no internet route.

The Lambdas do not run in the VPC: they need only AWS APIs and Azure DevOps.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import NetworkConfig
from components.iam import AwsContext
from components.tagging import named

INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts")
ZONES = 2


@dataclass
class NetworkArgs:
    config: NetworkConfig
    context: AwsContext
    tags: Mapping[str, str]
    # endpoints mode: services beyond the agents' own (the instances of ec2 profiles)
    extra_interface_endpoints: tuple[str, ...] = ()


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str] | None
    subnet_ids: pulumi.Output[list[str]]
    security_group_ids: pulumi.Output[list[str]]
    assign_public_ip: bool

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("adoscale:network:Network", name, None, opts)
        self._name, self._tags, self._context = name, args.tags, args.context
        self._extra_endpoints = args.extra_interface_endpoints
        config = args.config
        self.assign_public_ip = config.assign_public_ip
        if config.mode == "existing":
            self.vpc_id = pulumi.Output.from_input(config.vpc_id) if config.vpc_id else None
            self.subnet_ids = pulumi.Output.from_input(list(config.subnet_ids))
            if config.security_group_ids:
                self.security_group_ids = pulumi.Output.from_input(list(config.security_group_ids))
            else:
                group = self._agent_group(pulumi.Output.from_input(config.vpc_id or ""))
                self.security_group_ids = group.id.apply(lambda gid: [gid])
        else:
            self._create_vpc(config)
        self.register_outputs(
            {"subnet_ids": self.subnet_ids, "security_group_ids": self.security_group_ids}
        )

    def _child(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on)

    def _agent_group(self, vpc_id: pulumi.Input[str]) -> aws.ec2.SecurityGroup:
        """Egress-only: nothing may connect to an agent; agents may connect out."""
        return aws.ec2.SecurityGroup(
            f"{self._name}-agents",
            description="adoscale agents: egress only",
            vpc_id=vpc_id,
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="agents reach Azure DevOps, registries and AWS APIs",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=["0.0.0.0/0"],
                    ipv6_cidr_blocks=["::/0"],
                )
            ],
            tags=named(self._tags, f"{self._name}-agents"),
            opts=self._child(),
        )

    def _create_vpc(self, config: NetworkConfig) -> None:
        name = self._name
        cidr = ipaddress.IPv4Network(config.vpc_cidr)
        blocks = [str(block) for block in cidr.subnets(new_prefix=cidr.prefixlen + 4)]
        zones = aws.get_availability_zones_output(state="available").names
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=config.vpc_cidr,
            enable_dns_hostnames=True,  # private endpoint DNS and ECS need both
            enable_dns_support=True,
            tags=named(self._tags, f"{name}-vpc"),
            opts=self._child(),
        )
        self.vpc_id = vpc.id
        private_table = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            tags=named(self._tags, f"{name}-private"),
            opts=self._child(),
        )
        private = self._subnets("private", vpc, private_table, blocks[:ZONES], zones)
        self.subnet_ids = pulumi.Output.all(*[subnet.id for subnet in private]).apply(list)
        agents = self._agent_group(vpc.id)
        self.security_group_ids = agents.id.apply(lambda gid: [gid])
        if config.mode == "nat":
            self._nat(vpc, private_table, blocks, zones)
        else:
            self._endpoints(vpc, private_table, private, agents)

    def _subnets(
        self,
        kind: str,
        vpc: aws.ec2.Vpc,
        table: aws.ec2.RouteTable,
        blocks: list[str],
        zones: pulumi.Output[list[str]],
    ) -> list[aws.ec2.Subnet]:
        """One subnet per zone, each associated with ``table``."""
        subnets = []
        for index in range(ZONES):
            subnet_name = f"{self._name}-{kind}-{index}"
            subnet = aws.ec2.Subnet(
                subnet_name,
                vpc_id=vpc.id,
                cidr_block=blocks[index],
                availability_zone=zones[index],
                tags=named(self._tags, subnet_name),
                opts=self._child(),
            )
            aws.ec2.RouteTableAssociation(
                subnet_name, subnet_id=subnet.id, route_table_id=table.id, opts=self._child()
            )
            subnets.append(subnet)
        return subnets

    def _nat(
        self,
        vpc: aws.ec2.Vpc,
        private_table: aws.ec2.RouteTable,
        blocks: list[str],
        zones: pulumi.Output[list[str]],
    ) -> None:
        name = self._name
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=named(self._tags, f"{name}-igw"), opts=self._child()
        )
        public_table = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=named(self._tags, f"{name}-public"),
            opts=self._child(),
        )
        public = self._subnets("public", vpc, public_table, blocks[ZONES:], zones)
        address = aws.ec2.Eip(
            f"{name}-nat", domain="vpc", tags=named(self._tags, f"{name}-nat"), opts=self._child()
        )
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            allocation_id=address.id,
            subnet_id=public[0].id,
            tags=named(self._tags, f"{name}-nat"),
            opts=self._child(depends_on=[gateway]),
        )
        aws.ec2.Route(
            f"{name}-private-default",
            route_table_id=private_table.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
            opts=self._child(),
        )

    def _endpoints(
        self,
        vpc: aws.ec2.Vpc,
        private_table: aws.ec2.RouteTable,
        private: list[aws.ec2.Subnet],
        agents: aws.ec2.SecurityGroup,
    ) -> None:
        name = self._name
        endpoint_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            description="adoscale interface endpoints: HTTPS from the agents",
            vpc_id=vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from adoscale agents",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_groups=[agents.id],
                )
            ],
            egress=[],
            tags=named(self._tags, f"{name}-endpoints"),
            opts=self._child(),
        )
        region = self._context.region
        for service in (*INTERFACE_ENDPOINTS, *self._extra_endpoints):
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=pulumi.Output.concat("com.amazonaws.", region, ".", service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in private],
                security_group_ids=[endpoint_group.id],
                tags=named(self._tags, f"{name}-{service}"),
                opts=self._child(),
            )
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", region, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[private_table.id],
            tags=named(self._tags, f"{name}-s3"),
            opts=self._child(),
        )
