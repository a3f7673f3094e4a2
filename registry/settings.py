"""Settings, read once at the edge (CLI, API) from ``TANHUI_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Registry settings. Environment: ``TANHUI_DATABASE_URL`` and friends."""

    model_config = SettingsConfigDict(env_prefix="TANHUI_", extra="ignore")

    database_url: str = "sqlite:///tanhui.sqlite"
    """SQLAlchemy URL; ``sqlite:///file`` (SpatiaLite, the default) or
    ``postgresql+psycopg://user@host:port/db`` (PostGIS, production)."""
    overlap_tolerance_m2: float = 1.0
    """Overlap between two stands above this many m² is an error."""
    area_tolerance_pct: float = 1.0
    """Mapped vs reported 面积 difference above this percentage is a warning."""
    buffer_pct: float = 10.0
    """Minimum share of each issuance (%) set aside in the buffer pool against reversals; a
    project's assessed risk (``tanhui project assess-risk``) can raise it, never lower it."""
    registry_name: str = "双牌县林业碳汇登记簿"
    """The registry's name, as its signed checkpoints and certificates state it."""
    checkpoint_key: Path | None = None
    """Ed25519 private key (PEM) that signs audit checkpoints; keep it outside the database and
    its backups (``tanhui audit keygen``)."""
    migration_database_url: str | None = None
    """PostgreSQL: the tables' owner, for ``tanhui db upgrade`` only; the application itself
    connects (``database_url``) as a role that does not own them (README, PostgreSQL roles)."""
    plausibility_factor: float | None = None
    """Plausibility gate: a period whose net removals per ha-year differ from the frozen ex-ante
    by more than this factor (either way) is flagged; None = the parameter table's
    ``plausibility_exante_factor`` (2)."""
    actor: str = "bureau"
    """Who the CLI acts as in the audit log, until accounts exist."""
