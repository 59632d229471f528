"""Framing cases sent to a getty server by Debian's python3-autobahn.

Usage: autobahn_client.py ws://host:port/ CASE...

Each case opens its own connection and uses autobahn's sendFrame (the
call its fuzzing test suite builds frames with) to send valid and invalid
frames. One JSON line per case: the messages and pongs received, the close
status the server sent, and whether the close was clean.
"""

import asyncio
import hashlib
import json
import struct
import sys
from urllib.parse import urlparse

from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


# name -> (client options, function sending the case's frames). A case
# that expects getty's echo closes the connection itself once it has the
# number of messages given by "expect".
CASES = {
    "text": ({}, lambda p: p.sendMessage("Hello κόσμε".encode(), isBinary=False)),
    "binary-64k": ({}, lambda p: p.sendMessage(bytes(range(256)) * 256, isBinary=True)),
    "text-chopped": ({}, lambda p: p.sendFrame(opcode=1, payload="κόσμε chopped".encode(), chopsize=1)),
    "fragments-with-ping": ({}, lambda p: (
        p.sendFrame(opcode=1, payload=b"fragment1", fin=False),
        p.sendFrame(opcode=9, payload=b"ping payload"),
        p.sendFrame(opcode=0, payload="fragment2 κόσμε".encode(), fin=True))),
    "ping-125": ({}, lambda p: p.sendFrame(opcode=9, payload=b"*" * 125)),
    "ping-126": ({}, lambda p: p.sendFrame(opcode=9, payload=b"*" * 126)),
    "rsv": ({}, lambda p: p.sendFrame(opcode=1, payload=b"Hello", rsv=1)),
    "opcode-3": ({}, lambda p: p.sendFrame(opcode=3)),
    "opcode-11": ({}, lambda p: p.sendFrame(opcode=11, payload=b"x")),
    "continuation-first": ({}, lambda p: p.sendFrame(opcode=0, payload=b"x", fin=True)),
    "fragmented-ping": ({}, lambda p: p.sendFrame(opcode=9, payload=b"x", fin=False)),
    "new-message-in-fragments": ({}, lambda p: (
        p.sendFrame(opcode=1, payload=b"a", fin=False),
        p.sendFrame(opcode=2, payload=b"b", fin=True))),
    "invalid-utf8": ({}, lambda p: p.sendFrame(opcode=1, payload=b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")),
    "invalid-utf8-first-fragment": ({}, lambda p: p.sendFrame(opcode=1, payload=b"\xf4\x90\x80\x80", fin=False)),
    "close-999": ({}, lambda p: p.sendFrame(opcode=8, payload=close_payload(999))),
    "close-1005": ({}, lambda p: p.sendFrame(opcode=8, payload=close_payload(1005))),
    "close-one-byte": ({}, lambda p: p.sendFrame(opcode=8, payload=b"\x03")),
    "close-reason-not-utf8": ({}, lambda p: p.sendFrame(opcode=8, payload=close_payload(1000, b"\xff"))),
    "close-3000": ({}, lambda p: p.sendFrame(opcode=8, payload=close_payload(3000, b"bye"))),
    "unmasked": ({"maskClientFrames": False}, lambda p: p.sendFrame(opcode=1, payload=b"Hello")),
    "too-big": ({}, lambda p: p.sendFrame(opcode=2, payload=b"0123456789", payload_len=(1 << 20) + 1)),
}

EXPECT = {"text": 1, "binary-64k": 1, "text-chopped": 1, "fragments-with-ping": 1, "ping-125": 0}


class Client(WebSocketClientProtocol):
    def onOpen(self):
        self.factory.result.update(messages=[], pongs=[])
        self.factory.send(self)
        if EXPECT.get(self.factory.case) == 0:
            # Only a pong is expected: it arrives before getty reads the
            # close frame.
            self.sendClose(1000)

    def onMessage(self, payload, isBinary):
        msgs = self.factory.result["messages"]
        msgs.append({"binary": isBinary, "len": len(payload), "sha256": hashlib.sha256(payload).hexdigest()})
        if len(msgs) == EXPECT.get(self.factory.case):
            self.sendClose(1000)

    def onPong(self, payload):
        self.factory.result["pongs"].append(payload.decode("latin-1"))

    def onClose(self, wasClean, code, reason):
        self.factory.result.update(clean=wasClean, code=code)
        if not self.factory.done.done():
            self.factory.done.set_result(None)


async def run(url, case):
    opts, send = CASES[case]
    u = urlparse(url)
    factory = WebSocketClientFactory(url)
    factory.protocol = Client
    factory.setProtocolOptions(closeHandshakeTimeout=5, serverConnectionDropTimeout=5, **opts)
    factory.case, factory.send = case, send
    factory.result = {"case": case}
    factory.done = asyncio.get_running_loop().create_future()
    transport, _ = await asyncio.get_running_loop().create_connection(factory, u.hostname, u.port)
    try:
        await asyncio.wait_for(factory.done, 15)
    except asyncio.TimeoutError:
        factory.result["error"] = "timeout"
        transport.abort()
    return factory.result


async def main():
    url = sys.argv[1]
    for case in sys.argv[2:]:
        print(json.dumps(await run(url, case)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
