"""The commands themselves, one function per user action: ``(CommandContext, Args) -> Result`` (desk/core/catalog.py
names each)."""
