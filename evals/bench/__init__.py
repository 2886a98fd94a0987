"""`assistant bench`: ingest and query speed, start-up, memory and load, each measured beside its baseline."""
