"""The scaling workflow: its input, its steps and its state machine definition."""
