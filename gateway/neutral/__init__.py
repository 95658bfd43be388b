"""The neutral model every other package points down to; it imports nothing else of the gateway.

`model.py`: the chat request (messages, tool specs, images, parameters), the encoded upstream
prompt, and the stream events every upstream yields and every client dialect renders.
`toolcalls.py`: the tool-call types passed between the tool stages (upstream tool frames, parsed
calls, verdicts).
"""
