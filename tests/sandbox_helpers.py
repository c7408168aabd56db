"""Helpers for the sandbox tests: spec loading, response-schema validation, clients and a uvicorn thread."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jsonschema
import referencing
import uvicorn
from referencing.jsonschema import DRAFT202012

from telnyx_numbers_mcp.sandbox import Sandbox, create_app

SPEC_URI = "urn:telnyx-openapi"
BASE_URL = "http://sandbox.invalid/v2"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class ResponseValidator:
    """Validates answers against the spec's success response schema for an operation (refs resolved)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = referencing.Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(SPEC_URI, resource)

    def _deref(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        while "$ref" in node:
            pointer = node["$ref"][1:]
            node = self.spec
            for part in pointer.strip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def success_codes(self, method: str, template: str) -> list[int]:
        op = self.spec["paths"][template][method.lower()]
        return [int(code) for code in op["responses"] if code.startswith("2")]

    def validate(self, method: str, template: str, response: httpx.Response) -> None:
        """Raise AssertionError or jsonschema.ValidationError when the answer breaks the contract."""
        assert response.headers.get("x-sandbox") == "true"
        codes = self.success_codes(method, template)
        assert response.status_code in codes, (response.status_code, codes, response.text[:500])
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{response.status_code}"
        node, pointer = self._deref(
            self.spec["paths"][template][method.lower()]["responses"][str(response.status_code)], pointer
        )
        content = node.get("content", {})
        if "application/json" in content:
            assert response.headers["content-type"].startswith("application/json")
            schema = {"$ref": f"{SPEC_URI}#{pointer}/content/application~1json/schema"}
            validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
            errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
            if errors:
                raise AssertionError(f"{method} {template}: {errors[0].message} at {list(errors[0].path)}")
        else:
            media = next(iter(content))
            assert response.headers["content-type"].startswith(media)


@contextlib.asynccontextmanager
async def client_for(sb: Sandbox, api_key: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """In-process client, exactly as other components reach the sandbox; each API key is an account."""
    transport = httpx.ASGITransport(app=create_app(sb))
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(sb: Sandbox) -> Iterator[str]:
    """Serve the sandbox with uvicorn in a background thread; yields the /v2 base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(sb), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v2"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def child_env(**extra: str) -> dict[str, str]:
    """A minimal environment for subprocesses (as MCP clients give servers): no TELNYX_* leaks in. The test's
    own state and data folders (conftest) go along, so no server a test starts writes into the user's."""
    keep = ("HOME", "PATH", "LANG", "TMPDIR", "SYSTEMROOT", "XDG_STATE_HOME", "XDG_DATA_HOME")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"subprocess exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # waiting for a TCP listener, not for server state
    raise RuntimeError(f"port {port} did not open")


@contextlib.contextmanager
def sandbox_api_process() -> Iterator[str]:
    """`telnyx-numbers-mcp sandbox-api` as a user runs it, in a subprocess; yields its URL (without /v2)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_numbers_mcp", "sandbox-api", "--port", str(port)],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()  # SIGKILL: a delayed answer may still be pending, no graceful wait
        proc.wait(timeout=10)
