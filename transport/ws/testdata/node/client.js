// A WebSocket client on the npm `ws` package, driven by node_test.go.
// Usage: node client.js URL MODE [deflate]
//   echo:   send text and binary messages, check the echoes, close with 1000
//   toobig: send one message of 2 MiB, report how the server closes
//   wait:   send nothing, report how the server closes
// Prints one JSON line with the outcome.
'use strict';
const WebSocket = require('ws');
const [url, mode, deflate] = process.argv.slice(2);
const ws = new WebSocket(url, {
  perMessageDeflate: deflate === 'deflate' ? { threshold: 0 } : false,
});
const msgs = [
  { data: 'hello', binary: false },
  { data: Buffer.from([0, 1, 2, 255]), binary: true },
  { data: '', binary: false },
  { data: 'héllo wörld 😀', binary: false },
  { data: 'x'.repeat(70000), binary: false },
  { data: Buffer.alloc(300000, 7), binary: true },
  { data: JSON.stringify({ list: Array.from({ length: 200 }, (_, i) => ({ id: i, name: 'user' + i })) }), binary: false },
];
let got = 0;
let ok = true;
const problems = [];
function done(extra) {
  console.log(JSON.stringify(Object.assign({ ok, got, problems, extensions: ws.extensions }, extra)));
}
ws.on('open', () => {
  if (mode === 'echo') for (const m of msgs) ws.send(m.data, { binary: m.binary });
  if (mode === 'toobig') ws.send(Buffer.alloc(2 << 20, 1), { binary: true });
});
ws.on('message', (data, isBinary) => {
  const want = msgs[got++];
  if (!want) { ok = false; problems.push('extra message'); return; }
  const wantBuf = Buffer.isBuffer(want.data) ? want.data : Buffer.from(want.data);
  if (isBinary !== want.binary) { ok = false; problems.push(`message ${got - 1}: binary=${isBinary}`); }
  if (!wantBuf.equals(data)) { ok = false; problems.push(`message ${got - 1}: ${data.length} bytes differ`); }
  if (got === msgs.length) ws.close(1000, 'done');
});
ws.on('close', (code, reason) => {
  if (mode === 'echo' && got !== msgs.length) ok = false;
  done({ code, reason: reason.toString() });
  process.exit(0);
});
ws.on('error', (e) => { problems.push('error: ' + e.message); });
setTimeout(() => { ok = false; problems.push('timeout'); done({ code: 0 }); process.exit(1); }, 20000).unref();
