// The npm `ws` echo server for the benchmark. Prints "READY host:port";
// exits when stdin closes. Usage: node echo.js [deflate]
'use strict';
const { WebSocketServer } = require('ws');
const deflate = process.argv[2] === 'deflate';
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20,
  perMessageDeflate: deflate ? { threshold: 256, serverNoContextTakeover: true, clientNoContextTakeover: true } : false });
wss.on('listening', () => console.log('READY 127.0.0.1:' + wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
