"""The one error the metastore commands end with: its message is all the operator sees."""


class MetastoreError(Exception):
    """A metadata backup or restore cannot go on; the message says why."""
