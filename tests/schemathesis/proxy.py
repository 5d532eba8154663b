#!/usr/bin/env python3
"""TCP-to-Unix-socket forwarder for the schemathesis run, and a supervisor of the
rvnest it forwards to.

schemathesis speaks HTTP over TCP; rvnest serves its API on a Unix socket. This
listens on 127.0.0.1 (a free port, written to --port-file), and pipes each TCP
connection to a fresh connection to --socket, byte for byte in both directions,
passing half-closes through.

It also runs the server command given after `--`, and starts it again whenever it
exits, as a service manager would: the API's `Shutdown` action ends the process by
design, and the fuzzer sends it. While the server restarts, new connections wait
(up to 10 s) for the socket to come back. At exit it prints how often the server
was started and with which exit codes it ended.

Usage: proxy.py --socket PATH --port-file FILE [--cwd DIR] -- rvnest --api-sock PATH ...
"""

import argparse
import asyncio
import os
import signal
import sys


async def pipe(reader, writer):
    """Copies reader to writer until EOF, then half-closes writer."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            pass


class Proxy:
    def __init__(self, args):
        self.args = args
        self.starts = 0
        self.exit_codes = []
        self.server = None
        self.stopping = False

    async def connect_upstream(self):
        for _ in range(200):
            try:
                return await asyncio.open_unix_connection(self.args.socket)
            except OSError:
                await asyncio.sleep(0.05)
        return None

    async def handle(self, client_reader, client_writer):
        upstream = await self.connect_upstream()
        if upstream is None:
            client_writer.close()
            return
        server_reader, server_writer = upstream
        await asyncio.gather(
            pipe(client_reader, server_writer), pipe(server_reader, client_writer)
        )
        for writer in (server_writer, client_writer):
            try:
                writer.close()
            except (ConnectionError, OSError):
                pass

    async def supervise(self):
        while not self.stopping:
            self.starts += 1
            self.server = await asyncio.create_subprocess_exec(
                *self.args.command,
                cwd=self.args.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=None,
            )
            code = await self.server.wait()
            if not self.stopping:
                self.exit_codes.append(code)
                await asyncio.sleep(0.05)

    async def main(self):
        listener = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        supervisor = asyncio.create_task(self.supervise())
        with open(self.args.port_file, "w") as f:
            f.write(f"{port}\n")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.stopping = True
        listener.close()
        if self.server and self.server.returncode is None:
            self.server.terminate()
            await self.server.wait()
        supervisor.cancel()
        print(
            f"proxy: rvnest started {self.starts} time(s); earlier runs ended with {self.exit_codes}",
            file=sys.stderr,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--cwd", default=os.getcwd())
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("no server command after --")
    asyncio.run(Proxy(args).main())


if __name__ == "__main__":
    main()
