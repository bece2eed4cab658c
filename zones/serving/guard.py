"""The outermost ASGI layer of the service: the body limit, the metrics, and no request
content in logs or error bodies when something fails."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from piizone.zones.serving.metrics import ServiceMetrics

log = logging.getLogger("piizone.serve")


class _BodyTooLarge(Exception):
    """The streamed request body passed the limit (raised from `receive`)."""


class Guard:
    """Outermost ASGI layer: body limit, metrics, and no content in logs on failures."""

    def __init__(self, app: Any, metrics: ServiceMetrics, max_body: int):
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint = self.metrics.endpoint(scope.get("path", ""))
        state = {"status": 500, "sent": False, "too_large": False}

        async def send_tracked(message: dict) -> None:
            if state["too_large"]:
                return  # the app's own answer to a cut-off body (a 400) gives way to our 413
            if message["type"] == "http.response.start":
                state["status"], state["sent"] = message["status"], True
            await send(message)

        received = 0

        async def receive_bounded() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    state["too_large"] = True
                    raise _BodyTooLarge
            return message

        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body:
                await _send_json(send_tracked, 413, {"error": self._too_large()})
            else:
                await self.app(scope, receive_bounded, send_tracked)
        except Exception as e:  # noqa: BLE001 - logged by type only: messages can hold data
            if not state["too_large"]:
                log.error("request failed: %s", type(e).__name__)
            if not state["sent"] and not state["too_large"]:
                await _send_json(send_tracked, 500, {"error": "internal error"})
        finally:
            if state["too_large"] and not state["sent"]:
                state["too_large"] = False
                await _send_json(send_tracked, 413, {"error": self._too_large()})
            self.metrics.observe(endpoint, state["status"], time.perf_counter() - started)

    def _too_large(self) -> str:
        return f"request body larger than the limit of {self.max_body} bytes"


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send: Callable, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
