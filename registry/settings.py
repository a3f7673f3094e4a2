"""Settings, read once at the edge (CLI, API) from ``TANHUI_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PLACEHOLDER_SECRET", "Settings"]

PLACEHOLDER_SECRET = "change-me-development-only"


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
    user: str | None = None
    """The local user the command line acts as (``--as`` overrides it); its roles and
    organisation come from the database."""
    environment: str = "development"
    """``development`` or ``production``: outside development, placeholder secrets are refused."""
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    """Signs the CSRF tokens of cookie sessions. Set a long random value outside development."""
    session_hours: float = 12.0
    """A cookie session ends this many hours after sign-in."""
    login_max_failures: int = 5
    """Failed sign-ins of one username from one client address within ``login_window_minutes``
    before that address's sign-ins for the user are refused (others are not)."""
    login_max_failures_per_user: int = 50
    """Failed sign-ins of one username from every address together within the window before
    every sign-in of the user is refused: a ceiling for a guesser using many addresses."""
    login_window_minutes: float = 15.0
    page_limit_max: int = 500
    """The largest ``limit`` a page of the API returns."""
    upload_max_mb: float = 200.0
    """The largest upload (inventory or plot file) the API accepts, in MiB."""
    upload_max_unzipped_mb: float = 2000.0
    """A zip whose members would unpack to more than this (MiB) is refused (zip bombs)."""

    basemap_url: str | None = None
    """A raster basemap's tile URL template (``https://…/{z}/{x}/{y}.png``) under the maps;
    None (the default): no basemap — no page asks anything of another server."""
    node_modules: Path = Path(__file__).resolve().parent.parent / "node_modules"
    """Where ``npm ci`` put the front-end libraries (MapLibre GL JS, PMTiles)."""
    tiles_dir: Path = Path("tiles")
    """Where the registry's vector tiles (PMTiles, MBTiles) are built and served from."""
    opendata_dir: Path = Path("opendata")
    """Where the open-data files are written (``tanhui opendata dump``) and served from
    (``/data``); the server rewrites them when the data change."""

    scene_store: Path | None = None
    """Where registered remote-sensing scenes (``tanhui monitor scenes add``) are kept, each file
    named by its SHA-256; None (the default): a folder ``scenes`` next to the SQLite database
    (the working directory's ``scenes`` for PostgreSQL)."""

    public_url: str | None = None
    """The registry's public address (``https://tanhui.example.cn``) for links that leave the
    page — the certificates' QR codes and PDFs; None: the address the request came in by."""
    server_gc_tuning: bool = False
    """Set by ``tanhui serve`` for its workers: the garbage collector tuned for a long-running
    server (start-up frozen, rarer collections; api/main.py says what it measured)."""

    def checked_secret(self) -> str:
        """The secret key; a placeholder (or a short key) is refused outside development."""
        value = self.secret_key.get_secret_value()
        if self.environment != "development" and (
            value == PLACEHOLDER_SECRET or len(value) < 32 or "change" in value.lower()
        ):
            from registry.errors import Failure

            raise Failure(
                "TANHUI_SECRET_KEY 仍是占位值或过短（至少 32 个字符）：生产环境必须设置随机密钥。",
                "TANHUI_SECRET_KEY is a placeholder or too short (32 characters at least): set a "
                "random secret outside development.",
            )
        return value
