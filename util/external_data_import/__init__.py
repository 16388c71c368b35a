"""Bring outside data into the formats the engine reads (local CSV / JSONL / image folders)."""
