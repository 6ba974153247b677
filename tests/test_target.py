"""edgeload.target: choosing and validating the endpoint, and SDK clients that hide nothing."""

from __future__ import annotations

import socket
import time

import pytest
from fake_endpoint import SDK_ROUTES, FakeEndpoint, make_self_signed_cert

from edgeload.errors import UsageError
from edgeload.target import (
    Target,
    make_sdk,
    redact,
    resolve_target,
    validate_endpoint_url,
)

CANARY = "api_CANARYcanary0123456789_secretTOKENvalue"


def env(url: str | None, token: str | None = CANARY, **extra: str) -> dict:
    values = dict(extra)
    if url is not None:
        values["GROUNDLIGHT_ENDPOINT"] = url
    if token is not None:
        values["GROUNDLIGHT_API_TOKEN"] = token
    return values


def usage_error(**kwargs) -> str:
    with pytest.raises(UsageError) as info:
        resolve_target(**kwargs)
    message = str(info.value)
    assert "\n" not in message, "a usage error is one line"
    assert CANARY not in message and CANARY[:12] not in message
    return message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.groundlight.ai",
        "https://api.groundlight.ai/device-api",
        "http://GROUNDLIGHT.AI.",
        "https://edge.api.Groundlight.ai:443/",
        "https://user:pw@api.groundlight.ai",
    ],
)
def test_the_groundlight_cloud_is_refused(url):
    message = usage_error(environ=env(url))
    assert "cloud" in message and "never" in message
    assert "pw@" not in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://127.0.0.1:30101", "http:// or https://"),
        ("127.0.0.1:30101", "http:// or https://"),
        ("http://", "no host"),
        ("http://127.0.0.1:99999", "not a valid URL"),
        ("http://127.0.0.1:30101/?x=1", "query or fragment"),
        ("   ", "set but empty"),
    ],
)
def test_malformed_endpoint_urls_are_refused(url, expected):
    assert expected in usage_error(environ=env(url))


@pytest.mark.parametrize("token", [None, "", "   "])
def test_a_missing_token_is_refused_for_a_real_endpoint(token):
    message = usage_error(environ=env("http://127.0.0.1:30101", token=token))
    assert "GROUNDLIGHT_API_TOKEN is not set" in message


BAD_TOKENS = ["api_short", CANARY[:19] + " " + CANARY[20:], "x" * 19 + "-" * 10]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_malformed_token_is_refused_without_quoting_it(token):
    message = usage_error(environ=env("http://127.0.0.1:30101", token=token))
    assert "malformed" in message and token not in message


def test_a_bad_disable_tls_verify_value_is_refused():
    message = usage_error(environ=env("http://127.0.0.1:30101", DISABLE_TLS_VERIFY="yes"))
    assert "DISABLE_TLS_VERIFY must be 1 or 0" in message


def test_an_unreachable_endpoint_is_refused_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    message = usage_error(environ=env(url), reach_timeout_s=2)
    assert f"cannot reach the edge endpoint at {url}" in message
    assert time.monotonic() - started < 5


def test_require_real_refuses_without_an_endpoint():
    assert "needs a real edge endpoint" in usage_error(environ={}, require_real=True)


def test_a_reachable_real_endpoint_is_described_without_secrets():
    with FakeEndpoint(SDK_ROUTES) as fake:
        port = fake.url.rsplit(":", 1)[1]
        target = resolve_target(environ=env(f"http://user:pw@127.0.0.1:{port}/"))
        assert target.kind == "real"
        assert target.url == fake.url  # credentials and trailing slash gone
        assert target.sim is None
        assert target.describe() == f"target: real edge endpoint at {fake.url}"
        assert target.as_record() == {
            "kind": "real",
            "url": fake.url,
            "started_by_edgeload": False,
        }
        for text in (repr(target), str(target), target.describe(), str(target.as_record())):
            assert CANARY not in text and "pw" not in text
        assert fake.hits["GET /health/live"] == 1


def test_device_api_paths_keep_the_status_pages_at_the_root():
    target = Target(kind="real", url=validate_endpoint_url("http://h:1/device-api/"), token=CANARY)
    assert target.url == "http://h:1/device-api"
    assert target.root_url == "http://h:1"


def test_ping_answers_when_health_live_is_missing():
    with FakeEndpoint({"GET /ping": (200, {"message": "Hello!"})}) as fake:
        assert resolve_target(environ=env(fake.url)).kind == "real"
        assert fake.hits["GET /health/live"] == 1 and fake.hits["GET /ping"] == 1


def test_a_server_that_is_not_an_edge_endpoint_is_refused():
    with FakeEndpoint({}) as fake:
        message = usage_error(environ=env(fake.url))
        assert "answered 404" in message and fake.url in message


def test_redact_hides_the_token_and_the_prefix_the_sdk_quotes():
    text = f"Invalid API token '{CANARY[:12]}...' and\n{CANARY}"
    assert redact(text, CANARY) == "Invalid API token '<token>...' and <token>"
    assert redact("nothing secret", None) == "nothing secret"


# -- the SDK ---------------------------------------------------------------------------------


def failing_image_queries(status: int):
    return {**SDK_ROUTES, "POST /device-api/v1/image-queries": (status, {"detail": "boom"})}


def test_make_sdk_switches_off_hidden_retries_for_that_client_only():
    with FakeEndpoint(failing_image_queries(503)) as fake:
        target = resolve_target(environ=env(fake.url))
        bare = make_sdk(target, retries=False)
        with pytest.raises(Exception) as info:
            bare.submit_image_query("det_x", b"\xff\xd8jpeg", wait=0)
        assert fake.hits["POST /device-api/v1/image-queries"] == 1
        assert getattr(info.value, "status", None) == 503

        retrying = make_sdk(target, retries=True)  # another client keeps the SDK's retries
        with pytest.raises(Exception):  # noqa: B017 - the SDK's InternalApiError
            retrying.submit_image_query("det_x", b"\xff\xd8jpeg", wait=0)
        assert fake.hits["POST /device-api/v1/image-queries"] == 1 + 4

        with pytest.raises(Exception):  # noqa: B017
            bare.submit_image_query("det_x", b"\xff\xd8jpeg", wait=0)
        assert fake.hits["POST /device-api/v1/image-queries"] == 1 + 4 + 1
        # the token travels only in the header the SDK uses for it
        assert fake.headers[-1].get("x-api-token") == CANARY
        assert CANARY not in repr(bare)


def test_make_sdk_sizes_the_connection_pool_for_the_users():
    with FakeEndpoint(SDK_ROUTES) as fake:
        target = resolve_target(environ=env(fake.url))
        gl = make_sdk(target, pool_size=400)
        assert gl.api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] == 400
        assert gl.api_client.rest_client.pool_manager.connection_pool_kw["retries"].total == 0
        assert gl.whoami() == "load@example.com"


def test_make_sdk_reports_a_rejected_token_in_one_line_without_it():
    routes = {**SDK_ROUTES, "GET /device-api/v1/me": (401, {"detail": "Invalid token."})}
    with FakeEndpoint(routes) as fake:
        target = resolve_target(environ=env(fake.url))
        with pytest.raises(UsageError) as info:
            make_sdk(target)
        message = str(info.value)
        assert "\n" not in message and fake.url in message
        assert CANARY not in message and CANARY[:12] not in message


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_pem(tmp_path_factory):
    pem = make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    if pem is None:
        pytest.skip("the openssl tool is needed to make a test certificate")
    return pem


def test_a_self_signed_endpoint_fails_with_advice_by_default(server_pem):
    with FakeEndpoint(SDK_ROUTES, certfile=str(server_pem)) as fake:
        message = usage_error(environ=env(fake.url))
        assert "cannot verify the TLS certificate" in message
        assert "DISABLE_TLS_VERIFY=1" in message and "--ca-bundle" in message


def test_disable_tls_verify_reaches_a_self_signed_endpoint(server_pem):
    with FakeEndpoint(SDK_ROUTES, certfile=str(server_pem)) as fake:
        target = resolve_target(environ=env(fake.url, DISABLE_TLS_VERIFY="1"))
        assert target.verify_tls is False
        assert "TLS unverified" in target.describe()
        assert make_sdk(target).whoami() == "load@example.com"


def test_a_ca_bundle_verifies_a_self_signed_endpoint(server_pem, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(server_pem.read_text().split("-----BEGIN PRIVATE KEY-----")[0])
    with FakeEndpoint(SDK_ROUTES, certfile=str(server_pem)) as fake:
        target = resolve_target(environ=env(fake.url), ca_bundle=str(ca))
        assert target.verify_tls and target.ca_bundle == str(ca)
        gl = make_sdk(target)  # the SDK's own connectivity check already verifies with it
        assert gl.whoami() == "load@example.com"


def test_a_missing_ca_bundle_is_refused(tmp_path):
    message = usage_error(environ=env("https://127.0.0.1:1"), ca_bundle=str(tmp_path / "no.pem"))
    assert "is not a file" in message


# -- the embedded simulator ------------------------------------------------------------------


def test_without_an_endpoint_an_embedded_simulator_is_started_and_stopped():
    with resolve_target(profile="gpu-1x", time_scale=50, environ={}) as target:
        assert target.kind == "simulated"
        assert target.url.startswith("http://127.0.0.1:")
        assert target.describe() == (
            f"target: simulated edge endpoint (profile gpu-1x, time x50) at {target.url}"
        )
        assert target.token not in repr(target)
        sim = target.sim
        assert sim.running
        assert make_sdk(target).whoami()
    assert not sim.running and target.sim is None
    target.close()  # idempotent


def test_an_unknown_simulator_profile_is_a_usage_error():
    message = usage_error(profile="no-such-profile", environ={})
    assert "no-such-profile" in message
