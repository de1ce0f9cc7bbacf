"""All configuration: one typed object read from `FOOTFALL_*` environment variables.

Read it once at start-up (`Settings()`) and pass it down; nothing deeper reads the environment.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from footfall.addresses import Network

URL_SCHEMES = {"redis_url": ("redis://", "rediss://", "unix://"),
               "store_url": ("sqlite://", "mongodb://", "mongodb+srv://")}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FOOTFALL_", frozen=True, extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis holding the queues")
    store_url: str = Field("sqlite:///footfall.db", description="`sqlite:///path.db` or `mongodb://…`")
    sites: Path | None = Field(None, description="TOML file of sites: keys, secrets, origins, URL maps")

    batch_size: int = Field(500, ge=1, le=100_000, description="drainer writes when a batch holds N events…")
    linger_ms: int = Field(500, ge=1, le=60_000, description="…or when its oldest event has waited this long")
    max_queue: int = Field(1_000_000, ge=1, description="events waiting in one stream before 503")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest request body (413 above)")
    max_batch_events: int = Field(1000, ge=1, description="most events in one request (413 above)")
    retry_after_s: int = Field(5, ge=1, description="the `Retry-After` of 503 answers")

    geoip_db: Path | None = Field(None, description="a GeoLite2-City .mmdb; default: maxminddb-geolite2's")
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        default_factory=list, description="peers whose X-Forwarded-For is believed (comma-separated CIDRs)"
    )
    ua_cache_size: int = Field(4096, ge=0, description="parsed user agents kept in memory")

    rate_limit_ip: int = Field(6000, ge=0, description="requests a minute from one client IP (0: no limit)")
    rate_limit_site: int = Field(0, ge=0, description="browser requests a minute for one site (0: no limit)")
    rate_limit_server: int = Field(0, ge=0, description="server-event requests a minute for one site (0: no limit)")
    rate_limit_learner: int = Field(120, ge=0, description="progress API requests a minute for one learner (0: none)")
    auth_failures: int = Field(20, ge=0, description="failed authentications a minute from one IP before 429 (0: any)")
    body_timeout_s: float = Field(10.0, gt=0, description="longest a client may take to send its body (408 after)")
    max_connections: int = Field(1000, ge=1, description="open connections one collector serves (503 above)")

    ip_anonymize: Literal["none", "truncate", "drop"] = Field(
        "none", description="before storage: keep, zero the last octet / last 80 bits, or drop after geolocation")
    honor_dnt: bool = Field(False, description="refuse browser events sent with DNT: 1 or Sec-GPC: 1")
    bots: Literal["keep", "separate", "drop"] = Field(
        "keep", description="bot traffic: in the main collections, in bot_logs, or not at all")
    retention_days: int = Field(0, ge=0, description="raw events older than this are deleted (0: kept)")

    drainer_id: str | None = Field(None, description="stable drainer id (default: host name)")
    heartbeat_s: float = Field(5.0, gt=0, description="drainer heartbeat period; dead after 3 missed")
    backoff_max_s: float = Field(30.0, gt=0, description="longest wait between store retries")

    completion_threshold: float = Field(0.8, gt=0, le=1, description="share of a video's minutes that completes it")

    mongo_write_concern: str = Field("majority", description="`w` of MongoDB writes: majority, 1, …")
    mongo_timeout_ms: int = Field(5000, ge=100, description="MongoDB server selection / socket timeout")

    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")

    @field_validator("redis_url", "store_url")
    @classmethod
    def _scheme(cls, value: str, info: ValidationInfo) -> str:
        schemes = URL_SCHEMES[info.field_name]
        if not value.startswith(schemes):
            raise ValueError(f"must start with {', '.join(schemes[:-1])} or {schemes[-1]}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [ipaddress.ip_network(v.strip(), strict=False) for v in value.split(",") if v.strip()]
        return value

    @property
    def heartbeat_ttl_s(self) -> int:
        return max(2, int(self.heartbeat_s * 3 + 0.999))
