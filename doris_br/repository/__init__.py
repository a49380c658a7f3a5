"""Repositories: Doris's stored layout over fsspec filesystems (local, S3, HDFS, brokers)."""
