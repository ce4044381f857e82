"""CLOV signaling service: rooms, invite tokens and the WebSocket relay.

`signaling.protocol` is shared with the browser client and imports nothing from the server.
"""
