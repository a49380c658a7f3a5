"""`doris-br metastore`: back the FE's metadata up in Kylin's layout, list backups, restore one.

Unlike Kylin's metastore.sh, a backup is never silently incomplete: it is built under a temporary name with
a manifest of every file and its checksum, and renamed into place only when whole; restore checks the
manifest before it changes anything.
"""
