"""The operator console: HTTP API, security, web page and Prometheus metrics.

``app`` builds the FastAPI application over a :class:`~netvigil.api.app.Console` (the stores and
oversight parts it reads and acts on); ``server`` serves it beside the pipeline in
``netvigil run`` when ``api.enabled``; ``base`` holds the Protocols the resolvers' action queue,
breaker and policy implement, ``memory`` the in-memory stand-ins used until they land.
Submodules are imported where used, so ``import netvigil.api`` stays cheap for the CLI.
"""

__all__: list[str] = []
