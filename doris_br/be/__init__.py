"""The backend: a Flight server that owns one storage root and runs the FE's tasks."""
