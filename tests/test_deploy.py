"""Configuration we ship is loaded by the real programs, and documentation covers every setting."""

from __future__ import annotations

from pathlib import Path

from redis import Redis

from footfall.redis_server import RedisServer
from footfall.settings import Settings

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
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]
