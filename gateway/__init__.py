"""cursor2api: an OpenAI-compatible gateway to the models of your own Cursor account."""

__version__ = "0.1.0"
