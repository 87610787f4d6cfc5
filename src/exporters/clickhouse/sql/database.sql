-- otelhouse: the database the log tables live in.
CREATE DATABASE IF NOT EXISTS {database}{on_cluster}
