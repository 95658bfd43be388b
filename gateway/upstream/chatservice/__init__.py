"""The `aiserver.v1.ChatService/StreamUnifiedChatWithTools` adapter (cursor-protocol.md §7-§10).

`request.py` builds the protobuf request, `decode.py` turns response frames into events and
`client.py` sends one call and maps its failures.
"""
