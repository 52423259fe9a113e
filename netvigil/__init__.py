"""NetVigil: event-streaming AIOps for networks."""

import os
from importlib.metadata import PackageNotFoundError, version

# NetVigil never uses gRPC in a forked child, and with gRPC's fork support on (grpcio 1.80+),
# a child forked while gRPC is initialised can die before it execs: its poller thread is
# restarted in the child, which then closes the poller's descriptor ("epoll_wait: Bad file
# descriptor", grpc issue 43055). The coordinator forks ansible-runner's playbook process in
# the process that runs gNMI executors. So fork support is off unless set otherwise; gRPC
# reads this when it is imported, after ``netvigil`` is.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

try:
    __version__ = version("netvigil")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
