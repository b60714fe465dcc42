"""The adoscale Pulumi components: one ``pulumi.ComponentResource`` per concern."""
