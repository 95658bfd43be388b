"""Cursor session tokens: file formats and the pool."""
