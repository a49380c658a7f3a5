"""doris_br: Apache Doris's backup and restore, served over the MySQL wire by real FE and BE processes."""

__version__ = "0.1.0"
# What clients see as the server version: Doris reports a MySQL 5.7 compatible version string.
SERVER_VERSION = "5.7.99"
VERSION_COMMENT = f"doris-br {__version__} (Doris compatible)"
