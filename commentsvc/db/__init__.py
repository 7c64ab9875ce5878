"""The database: models shared by every feature, connections, hot-path statements, revisions, migrations."""
