"""The MySQL wire server: mysql-mimic, with its protocol and security holes closed."""
