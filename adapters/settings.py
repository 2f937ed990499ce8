"""The process's settings, read once from the environment by app.py and handed to what it runs.

The variables that switch a platform on are named here, not only in their adapters: with any of
them set, ``python app.py`` serves instead of chatting, and the terminal chat should not pay the
second it takes to import Slack's and Teams' SDKs just to learn that they are off. The adapters
read these same names (adapters/slack, adapters/teams).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adapters import manager_ids
from bot.errors import CoachError
from bot.store import Store
from bot.store.connect import open_store
from bot.tips import Managers
from bot.weekly import Poster, zone

if TYPE_CHECKING:
    from bot.coach import Coach
    from bot.metrics import Metrics

SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"  # xoxb-..., OAuth & Permissions
SLACK_SIGNING_SECRET = "SLACK_SIGNING_SECRET"  # Basic Information > App Credentials (HTTP mode)
SLACK_APP_TOKEN = "SLACK_APP_TOKEN"  # xapp-..., an app-level token with connections:write (Socket Mode)
TEAMS_VARIABLES = ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId")
# A type or tenant alone does not switch Teams on: without an id and its secret there is nothing to serve as.
PLATFORM_SWITCHES = (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, *TEAMS_VARIABLES[:2])


def read_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment with empty values dropped: a variable set to "" counts as unset."""
    return {key: value for key, value in environ.items() if value != ""}


def platform_configured(env: Mapping[str, str]) -> bool:
    """Slack or Teams has credentials in ``env``: a bare ``python app.py`` serves rather than chats."""
    return any(name in env for name in PLATFORM_SWITCHES)


def default_db_path(env: Mapping[str, str]) -> Path:
    """The user's data folder (XDG_DATA_HOME, else ~/.local/share)/frontline-coach/coach.sqlite3."""
    base = Path(env["XDG_DATA_HOME"]) if "XDG_DATA_HOME" in env else Path.home() / ".local" / "share"
    return base / "frontline-coach" / "coach.sqlite3"


@dataclass(frozen=True)
class Settings:
    knowledge_overlay: str | None
    db_path: Path
    database_url: str | None
    dialog_ttl: float
    port: int
    host: str | None
    log_level: str
    managers: Managers = Managers()  # COACH_MANAGERS
    timezone: str = "UTC"  # COACH_TIMEZONE: the default weekly tip schedule's zone

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Raises ConfigError for a bad COACH_MANAGERS entry or an unknown COACH_TIMEZONE: start-up stops."""
        try:
            dialog_ttl = float(env.get("COACH_DIALOG_TTL", 1800))
            port = int(env.get("PORT", 3978))
        except ValueError as error:
            raise CoachError(f"COACH_DIALOG_TTL and PORT must be numbers: {error}") from None
        return cls(
            knowledge_overlay=env.get("COACH_KNOWLEDGE_DIR"),
            db_path=Path(env["COACH_DB"]) if "COACH_DB" in env else default_db_path(env),
            database_url=env.get("DATABASE_URL"),
            dialog_ttl=dialog_ttl,
            port=port,
            host=env.get("HOST"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            managers=Managers.parse(env.get("COACH_MANAGERS"), ids=manager_ids.RULES),
            timezone=zone(env.get("COACH_TIMEZONE", "UTC")).key,
        )

    async def open_store(self) -> Store:
        """PostgreSQL when DATABASE_URL is set, else the SQLite file at COACH_DB (bot/store/connect.py)."""
        return await open_store(database_url=self.database_url, db_path=self.db_path)

    def build_coach(
        self, store: Store, *, meter: Metrics | None = None, posters: Mapping[str, Poster] | None = None
    ) -> Coach:
        """The coach these settings describe, on ``store``: the chat and the server build it alike."""
        from bot.coach import build_coach  # the reader's fit: only for the commands that answer

        return build_coach(
            overlay=self.knowledge_overlay,
            store=store,
            dialog_ttl=self.dialog_ttl,
            managers=self.managers,
            timezone=self.timezone,
            meter=meter,
            posters=posters,
        )


__all__ = ["Settings", "default_db_path", "platform_configured", "read_env"]
