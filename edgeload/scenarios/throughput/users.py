"""The Locust user that submits image queries: paced, with the SDK or raw HTTP.

One class, `EdgeQueryUser`, serves both `--client sdk` and `--client http`, so that the choice
can change in the web UI between runs and a distributed master never has to tell workers which
class to spawn. Its task is one submission (see `edgeload.clients`); its `wait_time` keeps a
per-user schedule of `1 / --requests-per-second`: each request has an intended send time, a
request that is late (because the previous answer was slow) is sent at once, and the intended
time is recorded next to the actual one so that coordinated omission can be corrected.

Open model (`--arrival-rate R`): the same schedule at `R / --max-clients` per user, but the
task only starts the request in a greenlet of its own and returns, so requests start on
schedule whether or not earlier ones have finished. Each user holds
`--max-in-flight / --max-clients` slots; an arrival that finds none free is not sent and is
recorded as a failed request of category `dropped` (latency 0; the reporter counts it as a
failure and leaves it out of latency percentiles).

Per process, `ProcessContext` holds what users share: the image pool, the detectors, the SDK
client (one per process, pool sized for the users), and the current ramp step, which the
master (or the local shape) announces with the `edgeload_step` message.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.pool
from locust import FastHttpUser, task

from edgeload import clients
from edgeload.images import ImagePool

STEP_MESSAGE = "edgeload_step"
REQUEST_NAME = "image-query"
DISABLE_TLS_VARIABLE = "DISABLE_TLS_VERIFY"


class SubmissionFailed(Exception):
    """A failed image query as Locust's request event sees it (category: detail)."""


DROPPED = "dropped"  # runlog.ERROR_CATEGORIES: an open-model arrival with no free slot


@dataclass
class RampState:
    step: int | None = None
    clients: int | None = None


@dataclass
class ProcessContext:
    """What the users of one process share for one run."""

    client_kind: str
    requests_per_second: float
    detectors: list[str]
    images: ImagePool
    url: str
    target_kind: str
    pool_size: int
    slots_per_client: int | None = None  # open model: in-flight slots of one user
    # detector id -> the shape of its answers (MULTI_CLASS, BOUNDING_BOX); absent: as always
    answers: dict[str, clients.AnswerSpec | None] = field(default_factory=dict)
    verify_tls: bool = True
    ca_bundle: str | None = None
    ramp: RampState = field(default_factory=RampState)
    _sdk: Any = None
    _next_detector: Any = field(default_factory=itertools.count)

    def next_detector(self, offset: int = 0) -> str:
        return self.detectors[(next(self._next_detector) + offset) % len(self.detectors)]

    @property
    def token(self) -> str:
        return api_token(self.target_kind)

    def sdk(self) -> Any:
        """The process's SDK client, made at first use."""
        if self._sdk is None:
            from edgeload.target import Target, make_sdk

            target = Target(
                kind=self.target_kind,
                url=self.url,
                token=self.token,
                verify_tls=self.verify_tls,
                ca_bundle=self.ca_bundle,
            )
            self._sdk = make_sdk(target, pool_size=self.pool_size, retries=False)
        return self._sdk


def api_token(target_kind: str) -> str:
    """The token for the endpoint: the simulator's demo token, or this machine's own."""
    if target_kind == "simulated":
        from edgeload.sim import DEMO_TOKEN

        return DEMO_TOKEN
    token = os.environ.get("GROUNDLIGHT_API_TOKEN", "").strip()
    if not token:
        raise RuntimeError("GROUNDLIGHT_API_TOKEN is not set on this load generator")
    return token


def read_ca_pem(path: str | None) -> str | None:
    """The CA bundle's contents (public certificates), for workers that lack the file."""
    if not path:
        return None
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


def tls_settings(environment: Any) -> tuple[bool, str | None]:
    """(verify certificates?, CA file or None) for this process: off when DISABLE_TLS_VERIFY=1
    here or on the master; the CA bundle of --ca-bundle, or the master's copy on a worker."""
    options = environment.parsed_options
    verify = os.environ.get(DISABLE_TLS_VARIABLE, "0").strip() != "1"
    if getattr(options, "edgeload_verify_tls", True) is False:
        verify = False
    path = getattr(options, "ca_bundle", None) or None
    if path is not None and os.path.isfile(path):
        return verify, path
    pem = getattr(options, "edgeload_ca_pem", None)
    if not pem:
        return verify, None
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    copy = os.path.join(tempfile.gettempdir(), f"edgeload-ca-{digest}.pem")
    if not os.path.isfile(copy):
        with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(copy), delete=False) as f:
            f.write(pem)
        os.replace(f.name, copy)
    return verify, copy


def _verified_context_factory(ca_file: str) -> Any:
    """An ssl_context_factory for FastHttpUser that trusts `ca_file` (geventhttpclient passes
    its own default CA file, which a self-signed endpoint is not in)."""
    import gevent.ssl

    def factory(*_args: Any, **_kwargs: Any) -> Any:
        return gevent.ssl.create_default_context(cafile=ca_file)

    return factory


_contexts: dict[int, ProcessContext] = {}
_ramp_states: dict[int, RampState] = {}


def ramp_state(environment: Any) -> RampState:
    """The ramp step of this process (kept across runs, updated by `set_step`)."""
    return _ramp_states.setdefault(id(environment), RampState())


def set_step(environment: Any, step: int, clients_count: int) -> None:
    state = ramp_state(environment)
    state.step, state.clients = step, clients_count


def on_step_message(environment: Any = None, msg: Any = None, **_: Any) -> None:
    """Worker side of the `edgeload_step` message."""
    if environment is not None and msg is not None and isinstance(msg.data, dict):
        set_step(environment, int(msg.data["step"]), int(msg.data["clients"]))


def reset_context(environment: Any) -> None:
    """Forget the process context; the next user builds it from the current options."""
    old = _contexts.pop(id(environment), None)
    if old is not None and old._sdk is not None:
        try:
            old._sdk.close()
        except Exception:  # closing a client must never break a run
            pass


def process_context(environment: Any) -> ProcessContext:
    """The context of this process for the current run, built from the run's options."""
    context = _contexts.get(id(environment))
    if context is None:
        options = environment.parsed_options
        detectors = list(getattr(options, "edgeload_detectors", None) or [])
        inputs = getattr(options, "edgeload_inputs", None)  # validated by the master
        if not detectors or not inputs:
            raise RuntimeError("no detectors were provisioned for this run")
        from edgeload.scenarios.throughput.options import client_load

        client_rate, slots = client_load(inputs)
        max_clients = inputs["max_clients"]
        records = getattr(options, "edgeload_answers", None) or {}
        answers = {det: clients.AnswerSpec.of(records.get(det)) for det in detectors}
        sizes = [r.get("max") for r in records.values() if isinstance(r, dict)]
        context = ProcessContext(
            client_kind=inputs["client"],
            requests_per_second=client_rate,
            slots_per_client=slots,
            detectors=detectors,
            answers=answers,
            images=ImagePool(
                inputs["detector_mode"],
                inputs["image_width"],
                inputs["image_height"],
                n=next((n for n in sizes if n), None),
            ),
            url=environment.host,
            target_kind=str(getattr(options, "edgeload_target_kind", "real")),
            pool_size=max_clients if slots is None else max_clients * slots,
            ramp=ramp_state(environment),
        )
        context.verify_tls, context.ca_bundle = tls_settings(environment)
        _contexts[id(environment)] = context
    return context


def warm_up(environment: Any) -> None:
    """Build this process's context (image pool, SDK client) before its users spawn, so that
    the first ramp step does not lose its first second to SDK start-up. A failure here is left
    for the first user to meet and report."""
    try:
        context = process_context(environment)
        if context.client_kind == "sdk":
            context.sdk()
    except Exception:  # noqa: BLE001 - the users raise it again, with Locust's own reporting
        reset_context(environment)


class EdgeQueryUser(FastHttpUser):
    """A client of the edge endpoint: one paced image query after another (closed model), or
    paced arrivals that do not wait for earlier answers (open model)."""

    network_timeout = clients.REQUEST_TIMEOUT_S
    connection_timeout = clients.REQUEST_TIMEOUT_S
    max_retries = 0

    def __init__(self, environment: Any) -> None:
        # verify certificates unless the SDK's own switch says not to, like the SDK does
        verify, ca_file = tls_settings(environment)
        self.insecure = not verify
        if verify and ca_file is not None:
            self.ssl_context_factory = _verified_context_factory(ca_file)
        shared = process_context(environment)
        self.slots = shared.slots_per_client  # None: closed model
        if self.slots is not None:
            self.concurrency = self.slots  # FastHttpSession's connection pool
        super().__init__(environment)
        self.shared = shared
        self.in_flight = 0
        self.requests_running = gevent.pool.Group()
        self.interval = 1.0 / self.shared.requests_per_second
        offset = max(0, getattr(environment.runner, "worker_index", 0))
        self.detector_id = self.shared.next_detector(offset)
        self.answer_spec = self.shared.answers.get(self.detector_id)
        self.use_sdk = self.shared.client_kind == "sdk"
        self.gl = self.shared.sdk() if self.use_sdk else None
        self.request = clients.EdgeRequest(self.detector_id, self.shared.token)
        self.next_send = time.time()

    def on_start(self) -> None:
        # a random phase within one interval, so that a step's users do not fire in lockstep
        phase = random.random() * self.interval
        self.next_send = time.time() + phase
        gevent.sleep(phase)

    def on_stop(self) -> None:
        # open model: a stopped user's requests stop with it, as a closed user's one does
        self.requests_running.kill(block=True, timeout=5)

    def wait_time(self) -> float:
        self.next_send += self.interval
        delay = self.next_send - time.time()
        return delay if delay > 0 else 0.0

    @task
    def submit(self) -> None:
        ramp = self.shared.ramp
        context = {
            "intended": self.next_send,
            "detector": self.detector_id,
            "step": ramp.step,
            "clients": ramp.clients,
        }
        if self.slots is None:
            self._submit(context)
        elif self.in_flight >= self.slots:
            self._drop(context)
        else:
            self.in_flight += 1
            self.requests_running.spawn(self._submit_in_flight, context)

    def _submit(self, context: dict) -> None:
        jpeg, _answer = self.shared.images.next()
        if self.use_sdk:
            self._submit_sdk(jpeg, context)
        else:
            self._submit_http(jpeg, context)

    def _submit_in_flight(self, context: dict) -> None:
        try:
            self._submit(context)
        except Exception as exc:  # never lose an attempted request in a detached greenlet
            if "status" not in context:
                context["status"], context["error"] = 0, "client"
                self._fire(time.time(), 0.0, context, SubmissionFailed(f"client: {exc!r}"))
        finally:
            self.in_flight -= 1

    def _drop(self, context: dict) -> None:
        context["status"], context["error"] = 0, DROPPED
        detail = f"{DROPPED}: all {self.slots} in-flight slots of this client were busy"
        self._fire(context["intended"], 0.0, context, SubmissionFailed(detail))

    def _fire(self, start: float, latency_ms: float, context: dict, exception: Any) -> None:
        self.environment.events.request.fire(
            request_type="POST",
            name=REQUEST_NAME,
            response_time=latency_ms,
            response_length=0,
            response=None,
            context=context,
            exception=exception,
            start_time=start,
            url=clients.IMAGE_QUERIES_PATH,
        )

    def _submit_sdk(self, jpeg: bytes, context: dict) -> None:
        start, latency_ms, outcome = clients.timed(
            clients.submit_sdk, self.gl, self.detector_id, jpeg, self.answer_spec
        )
        context["status"] = outcome.status
        context["error"] = outcome.error
        self.environment.events.request.fire(
            request_type="POST",
            name=REQUEST_NAME,
            response_time=latency_ms,
            response_length=0,
            response=None,
            context=context,
            exception=None
            if outcome.error is None
            else SubmissionFailed(f"{outcome.error}: {outcome.detail}"),
            start_time=start,
            url=clients.IMAGE_QUERIES_PATH,
        )

    def _submit_http(self, jpeg: bytes, context: dict) -> None:
        with self.client.post(
            self.request.path,
            data=jpeg,
            headers=self.request.headers,
            name=REQUEST_NAME,
            context=context,
            catch_response=True,
        ) as response:
            status = response.status_code or 0
            error = getattr(response, "error", None)
            if status == 0 and error is not None:
                outcome = clients.classify_exception(error)
            else:
                outcome = clients.check_http_answer(
                    status, response.content, self.detector_id, self.answer_spec
                )
            sent = response.request_meta["context"]
            sent["status"] = outcome.status
            sent["error"] = outcome.error
            if outcome.error is None:
                response.success()
            else:
                response.failure(f"{outcome.error}: {outcome.detail}")
