"""A flapping link end: ``python -m netvigil.lab.flap NETNS IFNAME PERIOD_S DOWN_S``.

Takes the interface down for ``DOWN_S`` at the start of every ``PERIOD_S`` until stopped
(SIGTERM), then leaves it up. Started and stopped by ``lab fault flapping`` (by PID).
"""

from __future__ import annotations

import signal
import sys
import time

from netvigil.lab.system import run

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    netns, ifname, period, down = (argv or sys.argv[1:])[:4]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    t0 = time.monotonic()
    state = "up"
    while not stopping:
        phase = (time.monotonic() - t0) % float(period)
        want = "down" if phase < float(down) else "up"
        if want != state:
            run(["ip", "-n", netns, "link", "set", ifname, want], check=False)
            state = want
        time.sleep(0.2)
    run(["ip", "-n", netns, "link", "set", ifname, "up"], check=False)


if __name__ == "__main__":
    main()
