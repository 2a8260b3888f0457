-- Apps registered at instances we had no app on, counted per clock hour
-- (window_start in Unix seconds) for the global cap shared by all replicas.
CREATE TABLE new_instance_windows (
    window_start BIGINT PRIMARY KEY,
    used         BIGINT NOT NULL
);
