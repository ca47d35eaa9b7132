#!/usr/bin/env python3
"""Forwards a TCP port on the host's loopback into a network namespace.

Usage: netns-forward.py LISTEN_PORT NETNS_PATH TARGET_PORT

The local cluster (hack/cluster-up.sh) runs inside its own network namespace, so its API server
listens on that namespace's 127.0.0.1. This process binds 127.0.0.1:LISTEN_PORT in the host's
namespace first, then moves itself into NETNS_PATH (/run/netns/NAME) and connects every accepted
connection to 127.0.0.1:TARGET_PORT there. A socket stays in the namespace it was created in, so
one process serves both sides; traffic only ever goes to loopback addresses. It is a plain byte
pipe: TLS is end to end between the client and the API server.
"""

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def enter_netns(path: str) -> None:
    # Python 3.11 has no os.setns; libc's setns switches the calling thread, and this process
    # is single-threaded (asyncio below runs in this thread and resolves no names).
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def main(listen_port: int, netns: str, target_port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))  # in the host's namespace
    listener.listen(128)
    enter_netns(netns)  # every socket created from here on lives in the cluster's namespace

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
        for w in (up_w, client_w):
            w.close()

    server = await asyncio.start_server(serve, sock=listener)
    print(f"forwarding 127.0.0.1:{listen_port} -> {netns} 127.0.0.1:{target_port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
    except KeyboardInterrupt:
        pass
