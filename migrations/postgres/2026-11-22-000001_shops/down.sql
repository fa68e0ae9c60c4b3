DROP TABLE network_revision;
DROP TABLE shops;
