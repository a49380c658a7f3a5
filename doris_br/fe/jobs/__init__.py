"""Backup and restore jobs: journaled state records, one state machine per job type, one scheduler."""
