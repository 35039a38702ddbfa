-- Health checks. Each check is stored as the JSON of the model's HealthCheckSpec (canonical,
-- every applicable field written out), NULL where there is none: the check's many
-- kind-specific fields change together and are never filtered on.
-- services.health_check: the check of the real servers that have none of their own.
-- services.sorry_server: the JSON of a RealServerSpec that takes over while no real server
-- is healthy. services.min_healthy: below it the service is degraded.
-- real_servers.health_check: the real server's own check, in place of its service's.
ALTER TABLE services ADD COLUMN health_check TEXT
    CHECK (health_check IS NULL OR json_valid(health_check));
ALTER TABLE services ADD COLUMN sorry_server TEXT
    CHECK (sorry_server IS NULL OR json_valid(sorry_server));
ALTER TABLE services ADD COLUMN min_healthy INTEGER NOT NULL DEFAULT 1
    CHECK (min_healthy BETWEEN 0 AND 65535);
ALTER TABLE real_servers ADD COLUMN health_check TEXT
    CHECK (health_check IS NULL OR json_valid(health_check));
