"""Persistence: SQLite behind small module APIs (db, subscribers, ledger)."""
