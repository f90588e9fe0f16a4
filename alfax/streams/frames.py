"""WebSocket text frames built once per message and written as bytes to every connection.

A server-to-client frame is never masked (RFC 6455 §5.1), so the same bytes are valid on every connection: the hub
serialises a payload once, frames it once, and each session only hands those bytes to its socket. No compression
(per-message deflate is off: it would need one compressor state per connection).
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81  # FIN + opcode 1 (text)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented text frame holding ``payload`` (UTF-8 JSON)."""
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame made by ``text_frame`` (for transports that take messages, not frames)."""
    n = frame[1]
    if n < 126:
        return frame[2:]
    return frame[4:] if n == 126 else frame[10:]
