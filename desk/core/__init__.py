"""The command core: one function per user action behind every door (desk/core/core.py)."""
