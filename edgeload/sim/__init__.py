"""The simulated Groundlight Edge Endpoint (see docs/architecture.md).

`SimulatedEndpoint` runs it in a subprocess; `DEMO_TOKEN` is a token it accepts. Importing this
package is cheap: the server modules load only in the simulator process.
"""

from edgeload.sim.process import DEMO_TOKEN, SimulatedEndpoint

__all__ = ["DEMO_TOKEN", "SimulatedEndpoint"]
