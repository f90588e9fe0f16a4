"""uvicorn's sans-I/O WebSocket protocol plus one ASGI scope extension, ``alfax.frame_writer``.

Fan-out cost: going through ASGI ``send`` for every frame and every connection builds a message dict, runs three
coroutine layers and re-frames the same text per client (about 6 µs of Python per frame, 3x a raw ``websockets``
broadcast). The extension lets the stream sessions write frames made once by the hub straight to the transport
while it is writable; when it is not, they queue (bounded) and wait for ``resume_writing`` exactly as ``send``
would. Handshake, pings, pongs and the close handshake stay uvicorn's. The server wires this class with
``uvicorn.Config(ws=AlfaxWebSocketProtocol)``; any other ASGI server simply lacks the extension and the sessions
fall back to ``websocket.send``.
"""

from __future__ import annotations

import socket

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .ws_app import FRAME_WRITER


class FrameWriter:
    """Raw frame output of one connection (only whole frames, so they never interleave with uvicorn's own)."""

    __slots__ = ("_p",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._p = protocol

    def alive(self) -> bool:
        p = self._p
        return p.handshake_complete and not p.close_sent and not p.disconnected and not p.transport.is_closing()

    def ready(self) -> bool:
        """Open and below the transport's high-water mark."""
        return self._p.writable.is_set() and self.alive()

    def write(self, frame: bytes) -> None:
        self._p.transport.write(frame)

    async def wait_writable(self) -> None:
        await self._p.writable.wait()


DEFAULT_SEND_BUFFER = 256 * 1024


class AlfaxWebSocketProtocol(WebSocketsSansIOProtocol):
    # Bytes a connection may hold in the kernel (SO_SNDBUF) and, again, in the transport before it counts as
    # not writable. Linux otherwise auto-tunes a loopback send buffer to ~4 MB: a consumer that stopped reading
    # would hide megabytes there before the session's queue limit could ever see it.
    send_buffer = DEFAULT_SEND_BUFFER

    def handle_connect(self, event) -> None:  # type: ignore[no-untyped-def]
        sock = self.transport.get_extra_info("socket")
        if sock is not None and self.send_buffer:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
            except OSError:  # not a TCP socket (tests on unix sockets…): keep the defaults
                pass
            self.transport.set_write_buffer_limits(high=self.send_buffer)
        super().handle_connect(event)
        self.scope["extensions"][FRAME_WRITER] = FrameWriter(self)


def protocol_class(send_buffer: int = DEFAULT_SEND_BUFFER) -> type[AlfaxWebSocketProtocol]:
    """The protocol class for ``uvicorn.Config(ws=…)`` with a given per-connection send buffer."""
    return type("AlfaxWebSocketProtocol", (AlfaxWebSocketProtocol,), {"send_buffer": send_buffer})
