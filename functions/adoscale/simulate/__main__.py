"""``python -m adoscale.simulate``: the same command as ``adoscale simulate``."""

from __future__ import annotations

from adoscale.simulate.cli import simulate

if __name__ == "__main__":
    simulate(prog_name="python -m adoscale.simulate")
