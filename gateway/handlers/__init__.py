"""HTTP handlers: thin adapters between aiohttp requests and the chat service."""
