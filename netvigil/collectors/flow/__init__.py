"""Flow collection: NetFlow v5/v9, IPFIX and sFlow v5 decoding, templates, the UDP collector."""
