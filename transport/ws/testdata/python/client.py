"""A client on Debian's python3-websockets, driven by python_test.go.

Usage: /usr/bin/python3 client.py URL OFFER
OFFER picks the permessage-deflate offer: none, default, no-takeover,
small-server-window (server_max_window_bits=10, which a server that cannot
shrink its window must decline), small-client-window.
Echoes a few messages and prints one JSON line.
"""
import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

OFFERS = {
    "none": None,
    "default": [ClientPerMessageDeflateFactory(client_max_window_bits=True)],
    "no-takeover": [ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True)],
    "small-server-window": [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
    "small-client-window": [ClientPerMessageDeflateFactory(client_max_window_bits=9)],
}


async def main(url, offer):
    result = {"ok": True, "problems": []}
    async with websockets.connect(url, extensions=OFFERS[offer], compression=None, max_size=2**24) as ws:
        result["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        msgs = ["hello", b"\x00\x01\xff", "abc" * 20000, b"z" * 100000, "héllo 😀"]
        for m in msgs:
            await ws.send(m)
        for i, m in enumerate(msgs):
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != m:
                result["ok"] = False
                result["problems"].append("message %d differs" % i)
        await ws.close(1000, "py done")
        result["code"] = ws.close_code
    print(json.dumps(result))


asyncio.run(main(sys.argv[1], sys.argv[2]))
