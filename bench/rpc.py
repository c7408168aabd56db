"""A tiny raw JSON-RPC driver for MCP servers over stdio (newline-delimited JSON)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from typing import Any

PROTOCOL_VERSION = "2025-11-25"
CLIENT_INFO = {"name": "telnyx-numbers-mcp-bench", "version": "0.1"}


class RpcError(RuntimeError):
    """A JSON-RPC error answer."""


class StdioRpc:
    """One spawned MCP server; requests are matched to answers by id, so many may be in flight."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[tuple[dict[str, Any], int]]] = {}
        self.notifications = 0
        self.bytes_in = 0
        self.received_at: dict[int, float] = {}  # id -> when its answer line was read, before JSON parsing
        self._reader = asyncio.create_task(self._read_loop())

    @classmethod
    async def spawn(cls, argv: list[str], env: dict[str, str] | None = None) -> StdioRpc:
        """Start the server process with pipes on stdin/stdout (stderr discarded)."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            limit=64 * 1024 * 1024,
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    async def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            t_in = time.perf_counter()
            msg = json.loads(line)
            self.bytes_in += len(line)
            if "id" in msg and ("result" in msg or "error" in msg):
                fut = self._waiting.pop(msg["id"], None)
                self.received_at[msg["id"]] = t_in
                if fut is not None and not fut.done():
                    fut.set_result((msg, len(line)))
            elif "method" in msg and "id" not in msg:
                self.notifications += 1
            elif "id" in msg and "method" in msg:  # server->client request: answer "not supported"
                await self._send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "no"}})
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(RpcError("server closed stdout"))

    async def _send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        await self.proc.stdin.drain()

    async def request_raw(self, method: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], int]:
        """Send one request; return (answer message, answer size in bytes)."""
        self._next_id += 1
        rid = self._next_id
        fut: asyncio.Future[tuple[dict[str, Any], int]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        await self._send(msg)
        answer, size = await fut
        if "error" in answer:
            raise RpcError(f"{method}: {answer['error']}")
        return answer, size

    async def request_timed(self, method: str, params: dict[str, Any] | None = None) -> tuple[float, float]:
        """Seconds from sending one request until its answer line was read, and until it was parsed."""
        t0 = time.perf_counter()
        await self.request_raw(method, params)
        done = time.perf_counter()
        return self.received_at.pop(self._next_id) - t0, done - t0

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request and return its result."""
        answer, _ = await self.request_raw(method, params)
        result: dict[str, Any] = answer["result"]
        return result

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification."""
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        await self._send(msg)

    async def handshake(self) -> dict[str, Any]:
        """initialize + notifications/initialized."""
        result = await self.request(
            "initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}
        )
        await self.notify("notifications/initialized")
        return result

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """tools/call; raises if the tool reports an error."""
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            raise RpcError(f"{name} failed: {json.dumps(result)[:500]}")
        return result

    async def close(self) -> None:
        """Close stdin, then terminate/kill the process if it lingers."""
        with contextlib.suppress(Exception):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 2)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 2)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds used so far by a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of a live process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


async def cold_start(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, dict[str, Any], int]:
    """Spawn, handshake, list tools; return (s to initialize, s to tools/list, tools/list answer, answer bytes)."""
    t0 = time.perf_counter()
    rpc = await StdioRpc.spawn(argv, env)
    try:
        await rpc.handshake()
        t_init = time.perf_counter() - t0
        answer, size = await rpc.request_raw("tools/list", {})
        t_list = time.perf_counter() - t0
        return t_init, t_list, answer, size
    finally:
        await rpc.close()
