"""The FE's HTTP service (port 8030 by default): Stream Load, a JSON REST API and the web console."""
