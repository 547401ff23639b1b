"""The wire arbiter: a loopback packet capture of a run, rebuilt into per-request timings.

The client's own clock can be late (a busy core, a slow read loop); the capture is the
kernel's record of when bytes crossed the interface. Matching each sample to its wire
request tells how far the client's numbers are from the truth:

    with Capture(run_dir, loopback_ports(urls)) as capture:
        ...run the load...
    result = arbitrate(read_samples(run_dir), read_exchanges(capture.paths))
    result.error  # MeasurementError: client minus wire per SLI, send delay, counts
    result.wire   # the samples with wire timings, for judging the SLOs on the wire

`slakit.wire.check` does this for `slakit run scenario --wire-check`.
"""

from slakit.wire.arbiter import ErrorStats, MeasurementError, WireCheck, arbitrate
from slakit.wire.capture import Capture, loopback_ports
from slakit.wire.http import Exchange, read_exchanges

__all__ = [
    "Capture",
    "ErrorStats",
    "Exchange",
    "MeasurementError",
    "WireCheck",
    "arbitrate",
    "loopback_ports",
    "read_exchanges",
]
