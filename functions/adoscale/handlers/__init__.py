"""Lambda entry points: a few lines each, over the pure modules of adoscale."""
