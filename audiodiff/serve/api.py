"""The JSON HTTP API of ``audiodiff serve``: ``POST /api/generate`` answers WAV bytes (docs/serve.md).

Status codes: 200 with ``audio/wav`` (one clip) or ``application/zip`` (several clips, ``clip_K_seed_S.wav``);
400 for a bad field or a body that is not a JSON object (``{"error": message}``), 413 for a body over
``max_body_bytes``, 503 with ``Retry-After`` when the queue is full, 500 without details for anything unexpected
(the traceback goes to the server's log only).
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..audio import encode_wav
from ..errors import InvalidArgumentError
from ..schedulers import SCHEDULERS
from .engine import Clip, ClipEngine, ServerBusyError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2


class _BodyTooLarge(Exception):
    pass


def api_router(engine: ClipEngine) -> APIRouter:
    """``GET /api/limits`` (the caps, defaults and schedulers, as JSON) and ``POST /api/generate``."""
    router = APIRouter(prefix="/api")

    @router.get("/limits")
    def limits() -> dict[str, object]:
        defaults = asdict(engine.parse({"prompt": "-"}))  # what a request that gives only a prompt gets
        del defaults["prompt"]
        return {"limits": asdict(engine.limits), "defaults": defaults, "schedulers": list(SCHEDULERS),
                "sample_rate": engine.sample_rate}

    @router.post("/generate")
    async def generate(http_request: Request) -> Response:
        try:
            values = await _json_body(http_request, engine.limits.max_body_bytes)
            request = engine.parse(values)
            clips = await run_in_threadpool(engine.generate, request)
        except _BodyTooLarge:
            return _error(413, f"The request body is larger than {engine.limits.max_body_bytes} bytes.")
        except InvalidArgumentError as error:
            return _error(400, str(error))
        except ServerBusyError as error:
            return _error(503, str(error), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        except Exception:
            log.exception("POST /api/generate failed")
            return _error(500, "Internal error while generating; the server's log has the details.")
        return _clips_response(clips)

    return router


async def _json_body(http_request: Request, max_bytes: int) -> dict[str, object]:
    """The request's JSON object, reading at most ``max_bytes`` (raises :class:`_BodyTooLarge` past that)."""
    declared = http_request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in http_request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _BodyTooLarge
    try:
        values = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        example = '{"prompt": "a dog barking"}'
        raise InvalidArgumentError(f"The body is not JSON ({error}); send e.g. {example}.") from error
    if not isinstance(values, dict):
        raise InvalidArgumentError(f"The body must be a JSON object of fields, got {type(values).__name__}.")
    return values


def _clips_response(clips: list[Clip]) -> Response:
    headers = {"X-Sample-Rate": str(clips[0].sample_rate), "X-Seeds": ",".join(str(c.seed) for c in clips)}
    if len(clips) == 1:
        return Response(encode_wav(clips[0].audio, clips[0].sample_rate), media_type="audio/wav", headers=headers)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for k, clip in enumerate(clips):
            archive.writestr(f"clip_{k}_seed_{clip.seed}.wav", encode_wav(clip.audio, clip.sample_rate))
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
