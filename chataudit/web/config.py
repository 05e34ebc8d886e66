"""The server's settings, fixed when `serve` starts (tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..store import Archive


@dataclass
class ServerConfig:
    db: Path
    token: str  # the owner's login token (`?token=`, `Authorization: Bearer`)
    owner: str  # the owner's operator name in the audit trail (--operator, else the OS user)
    tls: bool = False  # cookies are Secure under TLS
    jobs_dir: Path | None = None  # uploads waiting for their job (default: beside the archive)
    login_attempts: int = 5  # failed logins per client and per name within login_window_s
    login_window_s: float = 300.0
    max_upload_bytes: int = 2 << 30
    # Host headers answered (None: any). `serve` on loopback answers only loopback names, so a web
    # page whose name was rebound to 127.0.0.1 (DNS rebinding) cannot talk to it.
    allowed_hosts: list[str] | None = None
    extra: dict = field(default_factory=dict)

    def open_archive(self) -> Archive:
        """The archive, opened for one request (SQLite connections are not shared across threads)."""
        return Archive(self.db, create=False)

    @property
    def uploads(self) -> Path:
        folder = self.jobs_dir or self.db.with_name(self.db.name + ".jobs")
        folder.mkdir(parents=True, exist_ok=True)
        return folder
