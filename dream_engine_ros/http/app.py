"""The ASGI app: routes, auth, limits, and the bridge from the event loop to the engine thread.

Order of checks on a POST, cheapest first, so a refused request costs (almost) nothing:
auth (401) -> model loaded (503) -> queue has room (429) -> Content-Type (415) -> body size
(413) -> form fields and decoding (400/413/415) -> the engine's validator (422) -> queue.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from dream_engine_ros import __version__
from dream_engine_ros.engine.errors import InputError, RolloutCancelled
from dream_engine_ros.engine.family import family_of
from dream_engine_ros.engine.runner import ChunkEvent
from dream_engine_ros.engine.spec import ModelSpec, get_spec
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.http.config import ServerConfig
from dream_engine_ros.http.errors import ApiError, error_body
from dream_engine_ros.http.forms import parse_batch, parse_predict
from dream_engine_ros.http.jobs import BatchOutcome, PredictOutcome, batch_job, predict_headers, predict_job
from dream_engine_ros.http.metrics import Metrics, MetricsMiddleware
from dream_engine_ros.http.multipart import Part, multipart_boundary, parse_multipart
from dream_engine_ros.http.results import ResultStore
from dream_engine_ros.http.sse import chunk_payload, format_event
from dream_engine_ros.http.worker import EngineWorker, Job, NotReady, QueueFull
from dream_engine_ros.planning.costs import default_cost_name


@dataclass
class ServerState:
    """Everything the routes share; `app.state.server` (tests and the bench read it too)."""

    config: ServerConfig
    spec: ModelSpec
    worker: EngineWorker
    metrics: Metrics
    results: ResultStore
    started_at: float


def _default_loader(config: ServerConfig) -> Callable[[], Any]:
    def load() -> Any:
        from dream_engine_ros.engine.runner import DreamEngine

        return DreamEngine.load(config.spec, weights=config.weights, device=config.device)

    return load


def _on_engine_thread(config: ServerConfig, loader: Callable[[], Any]) -> Callable[[], Any]:
    """The loader, preceded by the thread count set on the engine thread itself.

    Why there: OpenMP keeps the thread count per calling thread, so a count set on the main
    thread does not reach the engine thread, and a CPU rollout's rounding depends on how its
    convolutions are split; one fixed count on the one thread that predicts keeps the bytes stable.
    """

    def load() -> Any:
        if config.torch_threads > 0:
            import torch

            torch.set_num_threads(config.torch_threads)
        return loader()

    return load


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


# ---------------------------------------------------------------------- guards


def _authorize(request: Request, state: ServerState) -> None:
    """Bearer token, compared in constant time; no token configured = open."""
    token = state.config.token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "Authorization", "missing" if not given else "(hidden)",
                       "a valid 'Authorization: Bearer <token>' header is required",
                       headers={"WWW-Authenticate": 'Bearer realm="dream-engine"'})


def _ready_validator(state: ServerState) -> RequestValidator:
    worker = state.worker
    if worker.state != "ready":
        raise ApiError(503, "model", worker.state, worker.detail, headers={"Retry-After": "5"})
    validator: RequestValidator = worker.engine.validator
    return validator


def _queue_full(exc: QueueFull) -> ApiError:
    return ApiError(429, "queue", exc.depth, f"the request queue is full ({exc.depth} waiting); retry later",
                    headers={"Retry-After": str(exc.retry_after_s)})


def _precheck_queue(state: ServerState) -> None:
    """Refuse before reading the body when no place is free (the final check is at submit)."""
    if state.worker.full:
        raise _queue_full(QueueFull(state.worker.depth, state.worker.retry_after_s()))


async def _read_form(request: Request, config: ServerConfig) -> dict[str, Part]:
    content_type = request.headers.get("content-type", "")
    multipart_boundary(content_type)  # 415 before a byte of the body is read
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length", declared, "must be a decimal byte count")
        if int(declared) > config.max_body_bytes:
            raise ApiError(413, "body", int(declared), f"body of {declared} bytes exceeds this server's limit of "
                           f"{config.max_body_bytes} (--max-body-mb)")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > config.max_body_bytes:
            raise ApiError(413, "body", f"> {config.max_body_bytes} bytes",
                           f"body exceeds this server's limit of {config.max_body_bytes} bytes (--max-body-mb)")
    return await run_in_threadpool(parse_multipart, bytes(body), content_type)


def _submit(state: ServerState, kind: str, run: Callable[[Any, Callable[[], bool]], Any]) -> Job[Any]:
    try:
        return state.worker.submit(kind, run)
    except QueueFull as exc:
        raise _queue_full(exc) from None
    except NotReady as exc:
        raise ApiError(503, "model", exc.state, exc.detail, headers={"Retry-After": "5"}) from None


def _job_error(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InputError):
        return ApiError.from_input_error(exc)
    if isinstance(exc, NotReady):
        return ApiError(503, "model", exc.state, exc.detail, headers={"Retry-After": "5"})
    if isinstance(exc, RolloutCancelled):
        return ApiError(503, "request", "cancelled", str(exc))
    return ApiError(500, "engine", type(exc).__name__, f"the prediction failed: {exc}")


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _wait(request: Request, job: Job[Any]) -> Any:
    """The job's result; cancels the job when the client disconnects first."""
    result = asyncio.wrap_future(job.future)
    gone = asyncio.ensure_future(_until_disconnect(request))
    try:
        await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not result.done():
        job.cancel()
        raise ApiError(503, "request", "client disconnected", "the client went away; the job was cancelled")
    exc = result.exception()
    if exc is not None:
        raise _job_error(exc)
    return result.result()


def _queue_s(job: Job[Any]) -> float:
    return (job.started_at or job.enqueued_at) - job.enqueued_at


# ---------------------------------------------------------------------- routes


async def healthz(request: Request) -> Response:
    state = _state(request)
    worker = state.worker
    body = {"status": "ok" if worker.state == "ready" else worker.state, "detail": worker.detail,
            "spec": state.spec.name, "queue_depth": worker.depth, "busy": worker.busy,
            "uptime_s": round(time.monotonic() - state.started_at, 3)}
    return JSONResponse(body, status_code=200 if worker.state == "ready" else 503)


async def metrics(request: Request) -> Response:
    state = _state(request)
    _authorize(request, state)
    worker = state.worker
    gauges = {
        "dream_engine_queue_depth": ("Requests waiting for the engine thread.", float(worker.depth)),
        "dream_engine_queue_capacity": ("Places in the bounded queue (--max-queue).", float(worker.max_queue)),
        "dream_engine_busy": ("1 while the engine thread runs a job.", float(worker.busy)),
        "dream_engine_model_ready": ("1 once the model is loaded.", float(worker.state == "ready")),
        "dream_engine_results_stored": ("Finished rollouts kept for GET /v1/results/{id}.",
                                        float(len(state.results))),
        "dream_engine_results_stored_bytes": ("Bytes of those rollouts.", float(state.results.stored_bytes())),
    }
    return PlainTextResponse(state.metrics.render(gauges), media_type="text/plain; version=0.0.4")


def capabilities(spec: ModelSpec) -> dict[str, bool]:
    """What the spec's family can do, so a client validates as the server will without knowing the family."""
    family = family_of(spec)
    return {"guidance": bool(family.has_guidance), "history": bool(family.reads_history)}


def model_info(spec: ModelSpec, config: ServerConfig, worker: EngineWorker) -> dict[str, Any]:
    """What a client needs to build a valid request (and the SDK validates against)."""
    arch = {key: value for key, value in spec.summary().items() if key not in ("weights", "description", "name")}
    decode_free = bool(worker.engine is not None and worker.engine.can_roll_out_frameless)
    return {
        "name": spec.name,
        "family": spec.family,
        "description": spec.description,
        "resolution": [spec.height, spec.width],
        "height": spec.height,
        "width": spec.width,
        "chunk_size": spec.chunk_size,
        "action_dim": spec.action_dim,
        "action_low": list(spec.action_low) or None,
        "action_high": list(spec.action_high) or None,
        "fps": spec.fps,
        "defaults": {"num_steps": spec.num_steps, "guidance": spec.guidance},
        "capabilities": dict(capabilities(spec), decode_free=decode_free),
        "default_cost": default_cost_name(decode_free, needs_frames=False),
        "spec": {"name": spec.name, "arch": arch},
        "limits": config.limits(),
        "state": worker.state,
        "device": str(worker.engine.device) if worker.engine is not None else None,
        "version": __version__,
    }


async def model(request: Request) -> Response:
    state = _state(request)
    _authorize(request, state)
    return JSONResponse(model_info(state.spec, state.config, state.worker))


async def _admit(request: Request, parse: Callable[..., Any]) -> tuple[ServerState, Any]:
    """The checks every rollout route makes, cheapest first: token, model loaded, queue room
    (429 before the body is read), then the form parsed and validated off the event loop."""
    state = _state(request)
    _authorize(request, state)
    validator = _ready_validator(state)
    _precheck_queue(state)
    parts = await _read_form(request, state.config)
    return state, await run_in_threadpool(parse, parts, state.config, validator)


async def predict(request: Request) -> Response:
    state, parsed = await _admit(request, parse_predict)
    request_id = secrets.token_hex(8)
    if "text/event-stream" in request.headers.get("accept", ""):
        return _stream(state, parsed, request_id)
    job = _submit(state, "predict", predict_job(parsed, state.spec, state.config.tmp_dir))
    outcome: PredictOutcome = await _wait(request, job)
    headers = predict_headers(state.spec, _device(state), outcome, request_id, _queue_s(job))
    return Response(outcome.mp4, media_type="video/mp4", headers=headers)


def _device(state: ServerState) -> str:
    return str(state.worker.engine.device) if state.worker.engine is not None else "?"


def _stream(state: ServerState, parsed: Any, request_id: str) -> Response:
    """SSE: one `chunk` event per decoded chunk, then `done` (or `error`)."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[ChunkEvent, float] | None] = asyncio.Queue()

    def post(item: tuple[ChunkEvent, float] | None) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, item)
        except RuntimeError:
            pass  # the loop is gone (server shutting down): nobody is listening any more

    def on_chunk(event: ChunkEvent) -> None:  # engine thread: hand over, never block the rollout
        post((event, time.time()))

    job = _submit(state, "predict", predict_job(parsed, state.spec, state.config.tmp_dir, on_chunk))
    job.future.add_done_callback(lambda _: post(None))

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                item = await events.get()
                if item is None:
                    break
                event, decoded_at = item
                payload = await run_in_threadpool(chunk_payload, event.chunk_index, event.chunks_total,
                                                  event.first_frame_index, event.frames, decoded_at, event.elapsed_s)
                yield format_event("chunk", payload, str(event.chunk_index))
            exc = job.future.exception() if not job.future.cancelled() else RolloutCancelled("cancelled")
            if exc is not None:
                error = _job_error(exc)
                yield format_event("error", error.body())
                return
            yield format_event("done", _summary(state, job, job.future.result(), request_id))
        finally:
            if not job.future.done():
                job.cancel()  # the client went away mid-stream: stop the rollout

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-DreamEngine-Request-Id": request_id}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def _summary(state: ServerState, job: Job[Any], outcome: PredictOutcome, request_id: str) -> dict[str, Any]:
    headers = predict_headers(state.spec, _device(state), outcome, request_id, _queue_s(job))
    key = state.results.put(outcome.mp4, headers)
    return {"request_id": request_id, "result_url": f"/v1/results/{key}", "expires_in_s": state.results.ttl_s,
            "spec": state.spec.name, "family": state.spec.family, "frames": outcome.frames, "seed": outcome.seed,
            "num_steps": outcome.num_steps, "guidance": outcome.guidance, "fps": state.spec.fps,
            "mp4_bytes": len(outcome.mp4), "mp4_sha256": headers["X-DreamEngine-Mp4-Sha256"],
            "timings": dict(outcome.timings, queue_s=round(_queue_s(job), 6))}


async def predict_batch(request: Request) -> Response:
    state, parsed = await _admit(request, parse_batch)
    job = _submit(state, "predict_batch", batch_job(parsed, state.spec, state.config.tmp_dir))
    outcome: BatchOutcome = await _wait(request, job)
    spec = state.spec
    costs = outcome.costs
    ranking = None
    if costs is not None:  # lowest cost first; candidates without a finite cost last
        ranking = sorted(range(len(costs)), key=lambda k: (costs[k] is None, costs[k] or 0.0))
    body = {
        "request_id": secrets.token_hex(8), "spec": spec.name, "family": spec.family,
        "candidates": len(outcome.seeds), "horizon": outcome.frames - 1, "frames": outcome.frames,
        "fps": spec.fps, "height": spec.height, "width": spec.width, "seeds": outcome.seeds,
        "num_steps": outcome.num_steps, "guidance": outcome.guidance, "fused": parsed.fused,
        "cost": parsed.cost, "costs": outcome.costs, "best_index": outcome.best_index, "ranking": ranking,
        "videos": [{"index": k, "seed": outcome.seeds[k], "cost": None if costs is None else costs[k],
                    "mp4_base64": base64.b64encode(data).decode("ascii"), "mp4_bytes": len(data),
                    "mp4_sha256": hashlib.sha256(data).hexdigest()} for k, data in sorted(outcome.videos.items())],
        "device": _device(state),
        "timings": dict(outcome.timings, queue_s=round(_queue_s(job), 6)),
    }
    return JSONResponse(body)


async def result(request: Request) -> Response:
    state = _state(request)
    _authorize(request, state)
    key = request.path_params["result_id"]
    stored = state.results.get(key)
    if stored is None:
        raise ApiError(404, "result_id", key, f"no result {key!r} (unknown, or older than "
                       f"{state.results.ttl_s:g} s / evicted by newer ones)")
    return Response(stored.mp4, media_type="video/mp4", headers=stored.headers)


# ---------------------------------------------------------------------- errors


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    field = "path" if exc.status_code == 404 else "method"
    value = request.url.path if exc.status_code == 404 else request.method
    return JSONResponse(error_body(exc.status_code, field, value, str(exc.detail)), status_code=exc.status_code,
                        headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body(500, "server", type(exc).__name__, f"internal error: {exc}"), status_code=500)


def create_app(config: ServerConfig, loader: Callable[[], Any] | None = None,
               before_job: Callable[[Job[Any]], None] | None = None) -> Starlette:
    """The app for `config`; `loader` builds the engine (default: DreamEngine.load of the spec),
    `before_job` runs on the engine thread before each job (a test hook)."""
    spec = get_spec(config.spec)
    worker = EngineWorker(_on_engine_thread(config, loader or _default_loader(config)), config.max_queue, before_job)
    state = ServerState(config, spec, worker, Metrics(), ResultStore(config.result_max_count, config.result_ttl_s),
                        time.monotonic())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/model", model, methods=["GET"]),
        Route("/v1/predict", predict, methods=["POST"]),
        Route("/v1/predict_batch", predict_batch, methods=["POST"]),
        Route("/v1/results/{result_id}", result, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(MetricsMiddleware, metrics=state.metrics)],
                    exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected})
    app.state.server = state
    return app
