"""The ``netvigil`` command: one module per command group, registered by importing it.

Add a command group by adding a module and one ``import netvigil.cli.<module>`` line below.
"""

from __future__ import annotations

import netvigil.cli.analytics
import netvigil.cli.api
import netvigil.cli.bench
import netvigil.cli.bench_rca
import netvigil.cli.collect
import netvigil.cli.core
import netvigil.cli.decode
import netvigil.cli.graph
import netvigil.cli.kafka
import netvigil.cli.lab
import netvigil.cli.resolvers
import netvigil.cli.twin  # noqa: F401  (each import registers its commands)
from netvigil.cli._common import main

__all__ = ["main"]
