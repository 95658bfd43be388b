"""Tool calling (tool-calls.md): grammar texts, history encoding, the emulation parser, repair and
validation, and the per-turn policy. Every module here is pure: no aiohttp, no I/O."""
