"""The services the network carries, with their SLOs' state and the incidents that hurt them."""

from __future__ import annotations

from netvigil.api.guard import ConsoleDep, Viewer, console_router
from netvigil.api.schemas import ServiceOut
from netvigil.api.services import services_view

__all__ = ["router"]

router = console_router()


@router.get("/api/services", tags=["services"])
async def list_services(tok: Viewer, console: ConsoleDep) -> list[ServiceOut]:
    """Services with their paths, SLOs (burn state, budget left) and open incidents."""
    opened = [inc for inc, _ in console.incidents.list("open")]
    return services_view(console.topology, console.slos, console.slo_board, opened)
