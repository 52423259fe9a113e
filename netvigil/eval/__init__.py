"""The evaluation harness: mission scenarios and their scoreboard, the RCA benchmark, the
modelled operator, lead times, recovery and the plots.

It sits above the service (it builds services and watches them); nothing in the service
imports it, only the ``netvigil bench``/``demo`` commands and ``bench/``.
"""
