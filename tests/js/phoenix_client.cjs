// The official Phoenix JS client (npm "phoenix") against the alfax signal hub, for
// tests/signals/test_phoenix_conformance.py. Node 20 has no global WebSocket: the "ws" package is the transport.
//
//   node phoenix_client.cjs <socket endpoint, e.g. ws://127.0.0.1:PORT/socket> <token file> <topic> <count>
//
// The token is read from <token file> on every (re)connect (phoenix.js calls an authToken closure each time, and
// sends it as the "base64url.bearer.phx.<b64>" WebSocket subprotocol). The channel's join params are a closure
// returning the cursor {last_seq, epoch}, re-evaluated on each rejoin: that is how a reconnecting phoenix.js client
// resumes (signals.md §3.4). Every received new_signals seq is reported as it arrives, raw (no client-side
// de-duplication: the test checks what the server sent). One JSON object per stdout line.
"use strict";

const fs = require("fs");
const { Socket } = require("phoenix");
const WebSocket = require("ws");

const [endpoint, tokenFile, topic, countText] = process.argv.slice(2);
const expected = Number(countText);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

let lastSeq = 0;
let epoch = null;
const seqs = [];

const socket = new Socket(endpoint, {
  transport: WebSocket,
  authToken: () => fs.readFileSync(tokenFile, "utf8").trim(),
  heartbeatIntervalMs: 1000,
  reconnectAfterMs: () => 50,
  rejoinAfterMs: () => 50,
});
socket.onOpen(() => out({ event: "open" }));
socket.onClose((e) => out({ event: "close", code: e && e.code }));
socket.connect();

const channel = socket.channel(topic, () => (epoch === null ? { last_seq: lastSeq } : { last_seq: lastSeq, epoch }));
channel.on("new_signals", (payload) => {
  seqs.push(payload.seq);
  if (payload.seq > lastSeq) lastSeq = payload.seq;
  epoch = payload.epoch;
  out({ seq: payload.seq });
  if (seqs.length >= expected) {
    out({ done: seqs });
    socket.disconnect(() => process.exit(0));
  }
});
channel.onError(() => out({ event: "channel_error" }));
channel
  .join()
  .receive("ok", (response) => out({ joined: response }))
  .receive("error", (response) => out({ join_error: response }));

// (the join push is re-sent on every rejoin and keeps its hooks: each rejoin's reply is reported too)

setTimeout(() => {
  out({ timeout: seqs });
  process.exit(2);
}, Number(process.env.PHX_CLIENT_TIMEOUT_MS || 60000));
