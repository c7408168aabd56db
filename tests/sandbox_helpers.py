"""Helpers for the sandbox tests: spec loading, response-schema validation, clients and a uvicorn thread."""

from __future__ import annotations

import contextlib
import os
import re
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
PARAMETER_FIELDS = {
    ("GET", "/phone_numbers/slim"): re.compile(r"/data/\d+/tags"),  # include_tags: "Include the tags ..."
    # filter[include_phone_numbers]: "Include the first 50 phone number objects in the results"
    ("GET", "/sub_number_orders/{sub_number_order_id}"): re.compile(r"/data/phone_numbers"),
}
"""Answer fields an operation's own parameter documents (asked for by name) though its answer schema lacks them."""


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
            unknown = self.unknown_fields(content["application/json"]["schema"], response.json())
            documented = PARAMETER_FIELDS.get((method, template))
            unknown = [p for p in unknown if documented is None or not documented.fullmatch(p)]
            if unknown:
                raise AssertionError(f"{method} {template}: fields the spec does not have: {unknown}")
        else:
            media = next(iter(content))
            assert response.headers["content-type"].startswith(media)

    def _flatten(self, node: Any) -> list[dict[str, Any]]:
        """A schema and every schema it composes (allOf/anyOf/oneOf), refs followed."""
        if not isinstance(node, dict):
            return []
        node, _ = self._deref(node, "")
        out = [node]
        for key in ("allOf", "anyOf", "oneOf"):
            for part in node.get(key, []):
                out.extend(self._flatten(part))
        return out

    def unknown_fields(self, schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
        """JSON pointers of object members that no (composed) schema for them declares. A schema that
        declares no properties, or allows additional ones, is open; the spec's schemas otherwise list
        every field an answer may carry, so anything else is a field Telnyx does not send."""
        return self._unknown(self._flatten(schema), value, path)

    def _unknown(self, schemas: list[dict[str, Any]], value: Any, path: str) -> list[str]:
        if isinstance(value, list):
            items = [s for node in schemas for s in self._flatten(node.get("items"))]
            return [p for i, v in enumerate(value) for p in self._unknown(items, v, f"{path}/{i}")]
        if not isinstance(value, dict) or not schemas:
            return []
        props: dict[str, list[dict[str, Any]]] = {}
        extra: list[dict[str, Any]] = []
        declared = False
        open_ = False
        for node in schemas:
            if "properties" in node:
                declared = True
                for key, sub in node["properties"].items():
                    props.setdefault(key, []).extend(self._flatten(sub))
            more = node.get("additionalProperties")
            if more is True:
                open_ = True
            elif isinstance(more, dict):
                extra.extend(self._flatten(more))
        out: list[str] = []
        for key, sub_value in value.items():
            where = f"{path}/{key}"
            if key in props:
                out.extend(self._unknown(props[key], sub_value, where))
            elif extra:
                out.extend(self._unknown(extra, sub_value, where))
            elif declared and not open_:
                out.append(where)
        return out


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
