"""The demo's simulator: a scenario, a hidden world, sending engines that ask the gate through the
API, invariants checked on the database afterwards, and an HTML report.

``run_demo(people=20000, days=30, seed=7, out=None, progress=True) -> DemoSummary``.
"""

from leadpool.simulation.run import DemoSummary, run_demo

__all__ = ["DemoSummary", "run_demo"]
