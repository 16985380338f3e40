"""The desk's memory: the SQLite store (sqlite-utils) and the LangGraph checkpointer beside it."""
