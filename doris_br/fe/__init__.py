"""The frontend: catalog, journal, statements, jobs and the BE registry."""
