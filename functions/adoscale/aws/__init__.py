"""The AWS adapters: clients, the queue table, the state table's leases, ECS tasks, metrics,
alerts, scaling executions and the PAT secret. Each takes an injected boto3 client."""
