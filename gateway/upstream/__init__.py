"""Everything that speaks to Cursor: framing, protobuf mapping, transport, client."""
