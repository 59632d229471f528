// A WebSocket echo server on the npm `ws` package, driven by node_test.go.
// Usage: node server.js '{"deflate":true,"serverNoContextTakeover":false,"maxPayload":1048576}'
// Prints {"port":N} when listening, then one JSON line per closed connection.
// A text message "close-me" is answered by closing with 4000 "bye".
// Exits when stdin closes.
'use strict';
const { WebSocketServer } = require('ws');
const opts = JSON.parse(process.argv[2] || '{}');
const pmd = opts.deflate ? { threshold: 0 } : false;
if (pmd && opts.serverNoContextTakeover !== undefined) pmd.serverNoContextTakeover = opts.serverNoContextTakeover;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: opts.maxPayload || 100 << 20, perMessageDeflate: pmd });
wss.on('listening', () => console.log(JSON.stringify({ port: wss.address().port })));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'close-me') { ws.close(4000, 'bye'); return; }
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => console.log(JSON.stringify({ closed: code, reason: reason.toString(), extensions: ws.extensions })));
  ws.on('error', () => {});
});
process.stdin.on('end', () => { for (const c of wss.clients) c.terminate(); wss.close(); process.exit(0); });
process.stdin.resume();
