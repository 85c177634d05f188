"""Settings from the environment (12-factor); names as in README, "Configuration".

A bad value is one clear line (`SettingsError`), never a traceback; secrets
are SecretStr so they never show up in a repr or a log line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsError(ValueError):
    """A setting from the environment is invalid; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = Field("sqlite:///stepwise.db", validation_alias="STEPWISE_DATABASE_URL")
    redis_url: str | None = Field(None, validation_alias="STEPWISE_REDIS_URL")
    catalog: Path | None = Field(None, validation_alias="STEPWISE_CATALOG")
    rules: Path | None = Field(None, validation_alias="STEPWISE_RULES")
    templates: Path | None = Field(None, validation_alias="STEPWISE_TEMPLATES")
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list, validation_alias="STEPWISE_API_TOKENS")
    log_level: str = Field("INFO", validation_alias="STEPWISE_LOG_LEVEL")

    # The worker fleet's schedule (beat): which sources to sync, how often, when to re-score.
    sync_sources: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="STEPWISE_SYNC_SOURCES")
    sync_interval_minutes: int = Field(15, ge=1, le=1440, validation_alias="STEPWISE_SYNC_INTERVAL_MINUTES")
    rescore_hour: int = Field(5, ge=0, le=23, validation_alias="STEPWISE_RESCORE_HOUR")
    timezone: str = Field("UTC", validation_alias="STEPWISE_TIMEZONE")
    # Longer than the hard task time limit: an unacknowledged task of a dead worker comes back after this.
    visibility_timeout_seconds: int = Field(1800, ge=5, validation_alias="STEPWISE_VISIBILITY_TIMEOUT")
    # Records (accounts + their deals + leads) per scoring chunk a worker takes; a run fans out in chunks.
    chunk_size: int = Field(5000, ge=1, validation_alias="STEPWISE_CHUNK_SIZE")

    salesforce_username: str | None = Field(None, validation_alias="SALESFORCE_USERNAME")
    salesforce_password: SecretStr | None = Field(None, validation_alias="SALESFORCE_PASSWORD")
    salesforce_security_token: SecretStr | None = Field(None, validation_alias="SALESFORCE_SECURITY_TOKEN")
    salesforce_domain: str = Field("login", validation_alias="SALESFORCE_DOMAIN")
    salesforce_consumer_key: str | None = Field(None, validation_alias="SALESFORCE_CONSUMER_KEY")
    salesforce_private_key_file: Path | None = Field(None, validation_alias="SALESFORCE_PRIVATE_KEY_FILE")
    salesforce_instance_url: str | None = Field(None, validation_alias="SALESFORCE_INSTANCE_URL")
    salesforce_session_id: SecretStr | None = Field(None, validation_alias="SALESFORCE_SESSION_ID")

    llm_url: str | None = Field(None, validation_alias="STEPWISE_LLM_URL")
    llm_model: str = Field("gpt-4o-mini", validation_alias="STEPWISE_LLM_MODEL")
    llm_api_key: SecretStr | None = Field(None, validation_alias="STEPWISE_LLM_API_KEY")
    llm_budget: int = Field(200, ge=0, validation_alias="STEPWISE_LLM_BUDGET")
    llm_timeout_seconds: float = Field(20.0, gt=0, validation_alias="STEPWISE_LLM_TIMEOUT")

    # Slack/Teams alerts for the day's urgent actions (README "Alerts"): off unless this file is set.
    alerts_file: Path | None = Field(None, validation_alias="STEPWISE_ALERTS_FILE")
    # Where people reach this service (https://stepwise.example.com): links to a card page in alerts.
    public_url: str | None = Field(None, validation_alias="STEPWISE_PUBLIC_URL")

    hubspot_access_token: SecretStr | None = Field(None, validation_alias="HUBSPOT_ACCESS_TOKEN")
    hubspot_client_id: str | None = Field(None, validation_alias=AliasChoices("HUBSPOT_CLIENT_ID"))
    hubspot_client_secret: SecretStr | None = Field(None, validation_alias="HUBSPOT_CLIENT_SECRET")
    hubspot_base_url: str = Field("https://api.hubapi.com", validation_alias="HUBSPOT_BASE_URL")

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        # A comma-separated list in the environment; blanks are not tokens.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sync_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (e.g. Europe/Bucharest)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        # postgres:// (Heroku style) and plain postgresql:// mean psycopg 3 here.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://"):]
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL, e.g. https://stepwise.example.com")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    def api_token_values(self) -> list[str]:
        return [token.get_secret_value() for token in self.api_tokens]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "setting"
        raise SettingsError(f"{name.upper()}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
