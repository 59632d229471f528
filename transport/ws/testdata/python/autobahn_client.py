"""Drives a getty WebSocket echo server with Debian's python3-autobahn, which
builds frames itself (fragmented, chopped into one-byte writes, with RSV bits
or invalid UTF-8). Usage: autobahn_client.py URL SCENARIO. Prints one result
line: "echo <hex>" lines for echoes, "pong <hex>", and "close <code>"."""

import asyncio
import sys

import txaio

from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

URL, SCENARIO = sys.argv[1], sys.argv[2]


class Client(WebSocketClientProtocol):
    def onOpen(self):
        if SCENARIO == "fragmented":
            self.sendMessage("κόσμε and more".encode(), isBinary=False, fragmentSize=3)
        elif SCENARIO == "chopped":
            self.sendFrame(opcode=2, payload=b"\x01" * 300, chopsize=1)
        elif SCENARIO == "ping":
            self.sendFrame(opcode=9, payload=b"are you there")
        elif SCENARIO == "bad-utf8-first-fragment":
            self.sendFrame(opcode=1, payload=b"\xce\xba\xff", fin=False)
        elif SCENARIO == "rsv":
            self.sendFrame(opcode=1, payload=b"x", rsv=2)
        elif SCENARIO == "reserved-opcode":
            self.sendFrame(opcode=5, payload=b"x")
        elif SCENARIO == "long-ping":
            self.sendFrame(opcode=9, payload=b"p" * 126)
        else:
            raise SystemExit("unknown scenario " + SCENARIO)

    def onMessage(self, payload, isBinary):
        print("echo", payload.hex(), flush=True)
        self.sendClose(1000)

    def onPong(self, payload):
        print("pong", payload.hex(), flush=True)
        self.sendClose(1000)

    def onClose(self, wasClean, code, reason):
        print("close", code, flush=True)
        txaio.config.loop.stop()


def main():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    txaio.config.loop = loop  # autobahn's timers run on this loop too
    factory = WebSocketClientFactory(URL, loop=loop)
    factory.protocol = Client
    host, port = URL[len("ws://"):].split("/")[0].rsplit(":", 1)
    loop.run_until_complete(loop.create_connection(factory, host, int(port)))
    loop.call_later(20, loop.stop)
    loop.run_forever()


main()
