"""The pure core: queue item schema, models, counting, scaling policy, demands, naming, the
Lambda environment's settings and the step registry. No I/O here, and no boto3 or requests:
everything is a function of its arguments, table-tested in ``tests/unit``."""
