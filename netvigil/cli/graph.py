"""netvigil graph (to come)."""
