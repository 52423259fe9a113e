"""Syslog collection: RFC 5424 / RFC 3164 parsing, vendor mnemonics, RFC 6587 framing, listeners."""
