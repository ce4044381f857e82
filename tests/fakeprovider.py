"""A fake OpenAI-compatible image and chat provider: a real HTTP server on loopback (uvicorn in a
thread) that records what it is asked and answers per scenario, chosen by a `case:...` word in
the prompt. Used by tests/test_backgroundapi.py and tests_e2e/test_aicanvas.py."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import struct
import threading
import zlib
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import free_port, wait_until

KEY = "sk-test-key-never-shown-0123456789"
PREFIX = "/compat"
IMAGE_MODEL = "gpt-image-1"
CHAT_MODEL = "chat-test"
TIMEOUT = 1.0  # the timeout case sleeps past it
COLOURS = [(220, 40, 40), (40, 200, 60), (40, 60, 220), (230, 200, 30)]


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width` x `height` pixels (a few rows of data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


class FakeProvider:
    """An OpenAI-compatible server on loopback, on uvicorn in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        app = Starlette(routes=[
            Route(PREFIX + "/v1/images/generations", self.images, methods=["POST"]),
            Route(PREFIX + "/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/files/{name}", self.file, methods=["GET"]),
        ])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        assert wait_until(lambda: self.server.started), "the fake provider did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    def asked(self, case: str) -> list[dict[str, Any]]:
        """The recorded requests whose prompt (or chat message) carries `case`."""
        return [r for r in self.requests if case in json.dumps(r.get("json"), ensure_ascii=False)]

    def _record(self, request: Request, body: Any) -> None:
        self.requests.append({"path": request.url.path, "auth": request.headers.get("authorization"), "json": body})

    async def images(self, request: Request) -> Response:
        body = await request.json()
        self._record(request, body)
        prompt, n = body["prompt"], body["n"]
        width, height = (int(v) // 16 for v in body["size"].split("x"))
        case = m.group(1) if (m := re.search(r"case:([a-z0-9-]+)", prompt)) else "b64"
        if case == "moderation":
            error = {"code": "moderation_blocked", "message": "Your request was rejected by the safety system.",
                     "type": "image_generation_user_error", "param": None}
            return JSONResponse({"error": error}, 400)
        if case == "policy":
            return JSONResponse({"error": {"code": "content_policy_violation", "message": "no"}}, 400)
        if case in ("401", "403"):
            message = f"Incorrect API key provided: {request.headers.get('authorization')}"
            return JSONResponse({"error": {"code": "invalid_api_key", "message": message}}, int(case))
        if case in ("429", "500"):
            return JSONResponse({"error": {"code": "busy", "message": "later"}}, int(case))
        if case in ("timeout", "slow"):
            await asyncio.sleep(3 if case == "timeout" else 1.0)
        if case == "garbage-json":
            return Response(b"<html>not json</html>", 200, media_type="text/html")
        if case == "empty":
            return JSONResponse({"data": []})
        if case == "not-an-image":
            return JSONResponse({"data": [{"b64_json": base64.b64encode(b"GIF89a but not really").decode()}]})
        if case == "gif":
            buffer = io.BytesIO()
            Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, "GIF")
            return JSONResponse({"data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]})
        if case == "bomb":
            return JSONResponse({"data": [{"b64_json": base64.b64encode(bomb_png(30000, 30000)).decode()}]})
        if case == "url":
            return JSONResponse({"data": [{"url": f"{self.url}/files/{i}-{width}x{height}.png"} for i in range(n)]})
        if case == "foreign-url":  # the same machine, by another name and on another port
            return JSONResponse({"data": [
                {"url": f"http://localhost:{self.port}/files/0-{width}x{height}.png"},
                {"url": f"http://127.0.0.1:{self.port + 1}/files/1-{width}x{height}.png"},
            ]})
        pictures = [base64.b64encode(png((width, height), COLOURS[i % 4])).decode() for i in range(n)]
        return JSONResponse({"created": 1, "data": [{"b64_json": p} for p in pictures]})

    async def file(self, request: Request) -> Response:
        self._record(request, None)
        index, size = request.path_params["name"].removesuffix(".png").split("-")
        width, height = (int(v) for v in size.split("x"))
        return Response(png((width, height), COLOURS[int(index) % 4]), media_type="image/png")

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self._record(request, body)
        asked = body["messages"][-1]["content"]
        if "case:slow" in asked:
            await asyncio.sleep(1.0)
        if "case:garbage" in asked:
            content = "Sure! Here are some ideas: a beach, a forest."
        elif "Korean" in asked:
            content = json.dumps({"prompts": ["노을 지는 해변", "벚꽃 핀 공원", "sunset only in English", 7]},
                                 ensure_ascii=False)
        else:
            content = "```json\n" + json.dumps({"prompts": ["A neon city at night", "A quiet snowy forest",
                                                            "A neon city at night", ""]}) + "\n```"
        return JSONResponse({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
