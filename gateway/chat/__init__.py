"""Dialect-neutral chat model, translators and the chat service."""
