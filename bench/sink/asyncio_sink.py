#!/usr/bin/env python3
"""asyncio_sink: a Python asyncio UDP receiver, the peer the original KLAIS design measured its edge against.

Binds 127.0.0.1:PORT with an 8 MiB receive buffer, counts datagrams and bytes in a DatagramProtocol, and exits
IDLE_MS after the last datagram (once one has arrived). Prints the same line as udp_sink:
  received=N bytes=B first_ns=T0 last_ns=T1 rate=R
Usage: asyncio_sink.py PORT [IDLE_MS]
"""
import asyncio
import socket
import sys
import time


class Counter(asyncio.DatagramProtocol):
    def __init__(self):
        self.received = 0
        self.bytes = 0
        self.first = 0
        self.last = 0

    def datagram_received(self, data, addr):
        now = time.monotonic_ns()
        if self.received == 0:
            self.first = now
        self.received += 1
        self.bytes += len(data)
        self.last = now


async def main(port, idle_ms):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", port))
    loop = asyncio.get_running_loop()
    transport, counter = await loop.create_datagram_endpoint(Counter, sock=sock)
    try:
        while counter.received == 0 or time.monotonic_ns() - counter.last < idle_ms * 1_000_000:
            await asyncio.sleep(0.05)
    finally:
        transport.close()
    seconds = (counter.last - counter.first) / 1e9
    rate = counter.received / seconds if seconds > 0 else 0
    print(f"received={counter.received} bytes={counter.bytes} first_ns={counter.first} last_ns={counter.last} rate={rate:.0f}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: asyncio_sink.py PORT [IDLE_MS]")
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 1000))
