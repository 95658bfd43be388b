"""The `agent.v1.AgentService` adapter: the RPC Cursor's IDE, CLI and official SDK use.

`request.py` turns the neutral request into the run request and the context the run will ask
for, `decode.py` turns the server's messages into events and the answers the protocol demands
(a sans-IO state machine), `carriers.py` moves messages over HTTP/2 (`Run`, bidirectional) or
HTTP/1.1 (`RunSSE` plus one `BidiAppend` call per client message), `hosts.py` finds the agent
host, and `client.py` runs one turn.
"""
