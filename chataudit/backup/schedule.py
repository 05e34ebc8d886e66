"""`backup schedule --monthly`: a systemd timer (user units) and the equivalent cron line.

The month's backup runs on its last day at 23:30 (每月底), and a missed run (machine off) runs at the
next boot (``Persistent=true``). The key reaches the job as a key file named in the unit
(``CHATAUDIT_DB_KEY_FILE``); a passphrase is never written into a unit file or crontab.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import ChatAuditError

ON_CALENDAR = "*-*~01 23:30:00"  # the last day of every month
CRON_TIME = "30 23 28-31 * *"  # cron has no "last day": the line tests that tomorrow is the 1st


def _program() -> str:
    beside = Path(sys.executable).parent / "chataudit"
    return str(beside) if beside.exists() else (shutil.which("chataudit") or "chataudit")


def units(db: Path, dest: str, keep: int, key_file: str | None) -> dict[str, str]:
    command = [_program(), "--db", str(db.absolute()), "backup", "--to", dest, "--keep", str(keep)]
    if key_file:
        key_file = str(Path(key_file).absolute())
    environment = f"Environment=CHATAUDIT_DB_KEY_FILE={key_file}\n" if key_file else ""
    service = ("[Unit]\nDescription=chataudit monthly backup of " + str(db.absolute()) + "\n\n"
               "[Service]\nType=oneshot\n" + environment +
               "ExecStart=" + " ".join(shlex.quote(part) for part in command) + "\n")
    timer = ("[Unit]\nDescription=chataudit monthly backup (last day of the month)\n\n"
             f"[Timer]\nOnCalendar={ON_CALENDAR}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n")
    prefix = f"CHATAUDIT_DB_KEY_FILE={shlex.quote(key_file)} " if key_file else ""
    cron = (f'{CRON_TIME} [ "$(date -d tomorrow +\\%d)" = 01 ] && {prefix}'
            + " ".join(shlex.quote(part) for part in command))
    return {"chataudit-backup.service": service, "chataudit-backup.timer": timer, "cron": cron}


def write(db: Path, dest: str, keep: int, key_file: str | None, folder: str | None) -> dict[str, Any]:
    """Write the two units into ``folder`` (default: the user's systemd folder); returns what was written."""
    if dest.startswith("s3://") is False and not Path(dest).is_absolute():
        dest = str(Path(dest).absolute())
    made = units(db, dest, keep, key_file)
    target = Path(folder) if folder else Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"
    try:
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("chataudit-backup.service", "chataudit-backup.timer"):
            (target / name).write_text(made[name], encoding="utf-8")
            written.append(str(target / name))
    except OSError as error:
        raise ChatAuditError(f"{target}: cannot write the timer ({error.strerror or error})") from None
    return {"files": written, "on_calendar": ON_CALENDAR, "cron": made["cron"],
            "enable": "systemctl --user daemon-reload && systemctl --user enable --now chataudit-backup.timer"}
