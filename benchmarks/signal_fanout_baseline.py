"""The raw broadcast baseline of ``bench_signal_fanout.py``: the same HTTP/WebSocket stack (Starlette on uvicorn,
uvloop, httptools, the websockets protocol) and the same wire shapes, but no durable log, no hub, no replay: a
publish writes one pre-encoded frame straight into every subscriber's queue. What the hub adds on top of this
floor (an SQLite COMMIT before the ack, sequence numbers, resume) is what the benchmark shows.

Usage (the benchmark starts it): ``python benchmarks/signal_fanout_baseline.py PORT``.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

SSE: set[asyncio.Queue] = set()
WS: set[asyncio.Queue] = set()
SEQ = [0]


async def publish(request: Request) -> JSONResponse:
    doc = orjson.loads(await request.body())
    SEQ[0] += 1
    seq = SEQ[0]
    doc["seq"] = seq
    data = orjson.dumps(doc)
    sse = b"id: %d\ndata: %s\n\n" % (seq, data)
    ws = b'[null,null,"algorithms:bench","new_signals",%s]' % data
    for q in SSE:
        q.put_nowait(sse)
    for q in WS:
        q.put_nowait(ws.decode())
    return JSONResponse({"data": {"seq": seq}, "success": True})


async def sse(request: Request) -> StreamingResponse:
    q: asyncio.Queue = asyncio.Queue()
    SSE.add(q)

    async def gen():
        try:
            yield b"retry: 3000\n\n"
            while True:
                yield await q.get()
        finally:
            SSE.discard(q)

    return StreamingResponse(gen(), media_type="text/event-stream")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    q: asyncio.Queue = asyncio.Queue()
    WS.add(q)

    async def reader() -> None:
        try:
            while True:
                text = await websocket.receive_text()
                if '"phx_join"' in text:  # the same join reply as alfax, so clients start the same way
                    q.put_nowait('[null,null,"algorithms:bench","phx_reply",{"response":{},"status":"ok"}]')
        except WebSocketDisconnect:
            pass

    task = asyncio.create_task(reader())
    try:
        while not task.done():
            await websocket.send_text(await q.get())
    except Exception:
        pass
    finally:
        WS.discard(q)
        task.cancel()


app = Starlette(routes=[Route("/publish", publish, methods=["POST"]), Route("/sse", sse),
                        WebSocketRoute("/ws", ws)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                ws_per_message_deflate=False)
