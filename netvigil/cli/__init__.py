"""The ``netvigil`` command: one module per command group, imported when its command runs.

Add a command by defining it in a module (``@main.command()`` or ``@main.group()`` from
``netvigil.cli._common``) and registering its name, module and one line of help below; the
test ``tests/unit/cli/test_lazy.py`` checks that each registered module defines its command
and that the help line matches the command's own.
"""

from __future__ import annotations

from netvigil.cli._common import main

__all__ = ["COMMANDS", "main"]

#: command name -> (module that defines it, the line ``netvigil --help`` shows)
COMMANDS: dict[str, tuple[str, str]] = {
    "api": ("netvigil.cli.api", "The operator console's HTTP API."),
    "audit": ("netvigil.cli.core", "Inspect the audit log."),
    "autonomy": (
        "netvigil.cli.prevention",
        "Each domain's track record, and promotion when it is earned.",
    ),
    "bench": ("netvigil.cli.bench", "Benchmarks and quality evaluations of the running pipeline."),
    "breaker": (
        "netvigil.cli.resolvers",
        "Stop or restart autonomous action (global or per domain).",
    ),
    "change": (
        "netvigil.cli.resolvers",
        "Approve or reject proposed changes (local ticket backend).",
    ),
    "collect": (
        "netvigil.cli.collect",
        "Run one collector against one device and print its events.",
    ),
    "config": ("netvigil.cli.core", "Inspect the configuration."),
    "decode": ("netvigil.cli.decode", "Decode captured flow datagrams or syslog messages to JSON."),
    "demo": ("netvigil.cli.core", "Run the pipeline against the twin on a fast simulated clock."),
    "detect": ("netvigil.cli.analytics", "Score a series strictly online."),
    "feedback": (
        "netvigil.cli.prevention",
        "Judge incidents and risks (false or confirmed); list and lift suppressions.",
    ),
    "graph": ("netvigil.cli.graph", "The topology graph: import, inspect, blast radius."),
    "lab": (
        "netvigil.cli.lab",
        "A real routed network on this machine: FRRouting routers in namespaces (root).",
    ),
    "logs": ("netvigil.cli.logs", "Log analytics: template mining."),
    "policy": ("netvigil.cli.resolvers", "Check the autonomy policy."),
    "replay": ("netvigil.cli.kafka", "Feed a recorded range of topics through the processors."),
    "risks": (
        "netvigil.cli.prevention",
        "Predicted harms with their deadline, confidence and preemptive change.",
    ),
    "run": ("netvigil.cli.core", "Run the always-on service until Ctrl-C, then drain and stop."),
    "topics": ("netvigil.cli.kafka", "Create and inspect NetVigil's Kafka topics."),
    "twin": (
        "netvigil.cli.twin",
        "The digital twin: a simulated network that speaks real protocols.",
    ),
    "version": ("netvigil.cli.version", "Print the version."),
    "worker": ("netvigil.cli.kafka", "Run stream processors on Kafka until Ctrl-C."),
}

for _name, (_module, _help) in COMMANDS.items():
    main.register(_name, _module, _help)
