"""A regular install works: a wheel built from the checkout, in a fresh virtual environment, serves the
tracker and the API docs and runs the demo; a Django site's install brings the shim without the server."""

from __future__ import annotations

import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SITES_TOML, answers, free_port_pair, wait_until

from footfall.cli.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder), str(ROOT)],
                   check=True, timeout=600, capture_output=True)
    [built] = folder.glob("footfall-*.whl")
    return built


def venv_with(folder: Path, requirement: str) -> Path:
    """A new virtual environment (nothing from the machine's site-packages) with one requirement installed
    from the project's pinned constraints; returns its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-c", str(ROOT / "constraints.txt"), requirement], check=True, timeout=900, capture_output=True)
    return folder / "bin"


def test_the_wheel_installs_everything_under_footfall_and_nothing_generic(wheel: Path) -> None:
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert top == {"footfall", "footfall_django", wheel.name.split("-py3")[0] + ".dist-info"}
    files = set(zipfile.ZipFile(wheel).namelist())
    assert {"footfall/static/footfall.min.js", "footfall/static/demo.html", "footfall/collector/app.py",
            "footfall/drainer/worker.py", "footfall/cli/__main__.py"} <= files


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisServer(tmp_path / "redis").start()
    yield server.url
    server.stop(kill=True)


def test_a_regular_install_serves_the_tracker_and_offline_docs_and_runs_the_demo(
        wheel: Path, tmp_path: Path, redis_url: str) -> None:
    bin = venv_with(tmp_path / "venv", f"{wheel}[server]")
    sites = tmp_path / "sites.toml"
    sites.write_text(SITES_TOML)
    env = {"PATH": f"{bin}:/usr/bin:/bin", "FOOTFALL_REDIS_URL": redis_url, "FOOTFALL_SITES": str(sites),
           "FOOTFALL_STORE_URL": f"sqlite:///{tmp_path / 'footfall.db'}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Run from elsewhere than the checkout, so that nothing can be imported from it.
    collector = subprocess.Popen([str(bin / "footfall"), "collector", "--port", str(port)], env=env, cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=(tmp_path / "collector.log").open("w"))
    try:
        wait_until(lambda: collector.poll() is None and answers(f"{url}/healthz"), what="the installed collector")
        assert httpx.get(f"{url}/footfall.js").content == (ROOT / "static" / "footfall.min.js").read_bytes()
        docs = httpx.get(f"{url}/docs").text
        assert "cdn" not in docs.lower()
        [script] = [line.split('src="')[1].split('"')[0] for line in docs.splitlines() if "swagger-ui-bundle" in line]
        assert script.startswith("/") and httpx.get(url + script).status_code == 200  # served by the collector
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(15)
    assert "Traceback" not in (tmp_path / "collector.log").read_text()

    page = free_port_pair()
    demo = subprocess.Popen([str(bin / "footfall"), "demo", "--port", str(page), "--dir", str(tmp_path / "demo")],
                            env={"PATH": env["PATH"]}, cwd=tmp_path, stdout=(tmp_path / "demo.log").open("w"),
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "Footfall demo page" in (tmp_path / "demo.log").read_text(), timeout=60,
                   what="the installed demo to start")
        assert "footfall.js" in httpx.get(f"http://127.0.0.1:{page}/").text
    finally:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(30) == 0, (tmp_path / "demo.log").read_text()


def test_a_django_site_installs_the_shim_without_the_server_stack(wheel: Path, tmp_path: Path) -> None:
    bin = venv_with(tmp_path / "venv", f"{wheel}[django]")
    check = ("import importlib.util, footfall_django.middleware, footfall_django.templatetags.footfall; "
             "print(sorted(m for m in ('fastapi', 'uvicorn', 'redis', 'pymongo', 'geoip2', 'msgspec') "
             "if importlib.util.find_spec(m)))")
    result = subprocess.run([str(bin / "python"), "-c", check], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    command = subprocess.run([str(bin / "footfall"), "collector"], cwd=tmp_path, capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin"})
    assert command.returncode == 2 and command.stderr.count("\n") == 1, command.stderr
    assert "pip install 'footfall[server]'" in command.stderr
