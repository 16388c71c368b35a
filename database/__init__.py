"""Runs, studies and trials in SQLite; export of complete studies as JSONL sequences."""

from database.store import Database, default_url

__all__ = ["Database", "default_url"]
