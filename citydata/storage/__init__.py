"""Storage: the database (SQLAlchemy) and the file store (content-addressed, atomic)."""
