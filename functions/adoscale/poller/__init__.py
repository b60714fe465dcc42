"""The poller: one cycle over every queue (read, count, decide, act, report), the loop that
runs cycles within a scheduled invocation, and the wiring a Lambda container builds once."""
