"""Configuration we ship is loaded by the real programs, and documentation covers every setting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from conftest import BROWSER_HEADERS, KEY, answers, page_view, wait_until
from redis import Redis

from footfall import cli
from footfall.cli.redis_server import RedisServer, free_port
from footfall.settings import Settings
from footfall.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent


def test_redis_conf_is_loaded_by_a_real_redis_server(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", config=ROOT / "deploy" / "redis.conf").start()
    try:
        client = Redis.from_url(server.url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    finally:
        server.stop()


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`FOOTFALL_{name.upper()}`" in readme, name


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test    #" in readme
    # ...in an environment built from nothing each time: the project's own venv is removed first.
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == [
        "rm -rf .venv", "make test"]


# --- deploy/: nginx, systemd, and the compose topology run as plain processes ---------------------------

def nginx_conf(folder: Path, upstream: str, listen: int | None = None, edit: Callable[[str], str] = str) -> Path:
    """The shipped site config inside a minimal main config (and on a free port, to run it)."""
    site = edit((ROOT / "deploy" / "nginx" / "footfall.conf").read_text())
    if listen is not None:
        site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    (folder / "footfall.conf").write_text(site)
    (folder / "upstream.conf").write_text(upstream)
    main = folder / "nginx.conf"
    main.write_text(f"user root;\nworker_processes 1;\nerror_log {folder}/error.log;\npid {folder}/nginx.pid;\n"
                    f"events {{}}\nhttp {{\n  access_log off;\n  include {folder}/upstream.conf;\n"
                    f"  include {ROOT}/deploy/nginx/footfall-limits.conf;\n  include {folder}/footfall.conf;\n}}\n")
    return main


def test_the_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    main = nginx_conf(tmp_path, (ROOT / "deploy" / "nginx" / "upstream.conf").read_text())
    result = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True)
    assert result.returncode == 0 and "syntax is ok" in result.stderr, result.stderr


@pytest.mark.parametrize("unit", ["footfall-collector@.service", "footfall-drainer@.service"])
def test_the_systemd_units_verify_and_run_real_commands(tmp_path: Path, unit: str) -> None:
    text = (ROOT / "deploy" / "systemd" / unit).read_text()
    local = (text.replace("/opt/footfall/venv/bin/footfall", shutil.which("footfall") or "footfall")
             .replace("User=footfall", "User=root").replace("Group=footfall", "Group=root")
             .replace("EnvironmentFile=/", "EnvironmentFile=-/"))
    (tmp_path / unit).write_text(local)
    instance = unit.replace("@.", "@8001.")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / instance)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    args = exec_start.split()[1:]
    parsed = cli.parser().parse_args([a.replace("%i", "8001").replace("%H", "host") for a in args])
    assert parsed.command in ("collector", "drainer")
    shipped = [line.split("=", 1)[0] for line in (ROOT / "deploy" / "footfall.env").read_text().splitlines()
               if line and not line.startswith("#")]
    assert shipped and all(name.removeprefix("FOOTFALL_").lower() in Settings.model_fields for name in shipped)


def test_the_compose_topology_runs_as_plain_processes(tmp_path: Path, sites_file: Path) -> None:
    """compose.yaml's services, as processes: Redis on the shipped redis.conf, init-db, two collectors behind a
    real nginx with the shipped site config, two drainers; SQLite stands in for MongoDB (no server here)."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    ours = {name: s["command"] for name, s in services.items() if "build" in s}
    assert sorted(ours) == ["collector1", "collector2", "drainer1", "drainer2", "init-db"]
    assert services["redis"]["command"][1] == "/usr/local/etc/redis/redis.conf"
    redis = RedisServer(tmp_path / "redis", config=ROOT / "deploy" / "redis.conf").start()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")},
           **services["collector1"]["environment"],
           "FOOTFALL_REDIS_URL": redis.url, "FOOTFALL_STORE_URL": f"sqlite:///{tmp_path / 'footfall.db'}",
           "FOOTFALL_SITES": str(sites_file), "FOOTFALL_TRUSTED_PROXIES": "127.0.0.1/32", "FOOTFALL_LINGER_MS": "50"}
    processes: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []

    def run(command: list[str]) -> subprocess.Popen[bytes]:
        if command[0] == "collector":  # each its own port here, as each its own container there
            ports.append(free_port())
            command = [*command[:command.index("--port")], "--port", str(ports[-1])]
            command = [c if c != "0.0.0.0" else "127.0.0.1" for c in command]
        process = subprocess.Popen([sys.executable, "-m", "footfall.cli", *command], env=env,
                                   stdout=subprocess.DEVNULL, stderr=(tmp_path / f"{command[0]}.log").open("ab"))
        processes.append(process)
        return process

    try:
        assert run(ours["init-db"]).wait(60) == 0
        for name in ("collector1", "collector2", "drainer1", "drainer2"):
            run(ours[name])
        upstream = compose["configs"]["upstream"]["content"]
        for name, port in zip(("collector1", "collector2"), ports, strict=True):
            upstream = upstream.replace(f"{name}:8000", f"127.0.0.1:{port}")
        entry = free_port()
        main = nginx_conf(tmp_path, upstream, listen=entry)
        processes.append(subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(main), "-g", "daemon off;"]))
        for port in (*ports, entry):
            wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}/healthz"), what=f"port {port}")
        # a client on another loopback address, forging X-Forwarded-For: nginx replaces it with the truth
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=f"http://127.0.0.1:{entry}", transport=transport) as client:
            for _ in range(20):
                response = client.post("/v1/events", headers={**BROWSER_HEADERS, "X-Forwarded-For": "6.6.6.6"},
                                       content=orjson.dumps({"key": KEY, "events": [page_view()] * 5}))
                assert response.status_code == 202, response.text
            assert client.get("/footfall.js").headers["cache-control"].startswith("max-age=86400")
            assert client.get("/metrics").status_code == 403  # metrics are for this host, not the world
        assert httpx.get(f"http://127.0.0.1:{entry}/metrics").status_code == 200
        store = SQLiteStore(str(tmp_path / "footfall.db"))
        wait_until(lambda: store.count("website_logs") == 100, what="all events through nginx to be stored")
        assert {d["ip"] for d in store.find("website_logs")} == {"127.0.0.2"}
        served = [_accepted(f"http://127.0.0.1:{port}") for port in ports]
        assert all(served) and sum(served) == 100, served  # both collectors took traffic
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        redis.stop()


def _accepted(url: str) -> int:
    text = httpx.get(f"{url}/metrics").text
    line = next((m for m in text.splitlines() if m.startswith("footfall_events_accepted_total{")), "0 0")
    return int(float(line.split()[-1]))


def test_nginx_drops_a_client_that_sends_its_headers_too_slowly(tmp_path: Path) -> None:
    """The shipped slow-client limits, with the 10 s header timeout shortened to 1 s for the test."""
    import socket

    entry = free_port()
    main = nginx_conf(tmp_path, "upstream footfall_collectors { server 127.0.0.1:9; }\n", listen=entry,
                      edit=lambda text: text.replace("client_header_timeout 10s;", "client_header_timeout 1s;"))
    nginx = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(main), "-g", "daemon off;"])
    try:
        wait_until(lambda: subprocess.run(["bash", "-c", f"echo > /dev/tcp/127.0.0.1/{entry}"],
                                          capture_output=True).returncode == 0, what="nginx to listen")
        with socket.create_connection(("127.0.0.1", entry), timeout=5) as slow:
            slow.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            answer = slow.recv(1024)  # nginx gives up on it well before the 5 s this waits
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        nginx.terminate()
        nginx.wait(30)
