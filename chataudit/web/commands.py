"""`chataudit serve` and `chataudit user …` (the CLI registers both lazily)."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import TYPE_CHECKING

import click

from ..cli import friendly_errors, json_option, open_archive
from ..errors import ChatAuditError
from ..render import emit
from ..store import is_postgres
from .roles import DESCRIPTIONS

if TYPE_CHECKING:  # imported when serving starts
    import uvicorn

LOOPBACK_NAMES = {"localhost", "localhost."}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, cert: str | None, key: str | None, insecure: bool) -> None:
    """Loopback by default; anywhere else only under TLS, or when the user says --insecure."""
    if bool(cert) != bool(key):
        raise ChatAuditError("give both --cert and --key (PEM files), or neither")
    if not is_loopback(host) and not cert and not insecure:
        raise ChatAuditError(f"--host {host} is reachable from other machines: give --cert PEM --key PEM "
                             "(TLS), or --insecure to serve plain HTTP anyway")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="CHATAUDIT_TOKEN", default=None,
              help="The owner's login token (default: $CHATAUDIT_TOKEN, else a new random one each start).")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option("--insecure", is_flag=True, help="Allow plain HTTP on a non-loopback --host.")
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Requests served at once by each worker (more only contend for its one Python process).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes over the archive (about one per CPU core; they share logins, jobs "
                   "and rate limits through the archive).")
@click.pass_context
@friendly_errors
def serve(ctx: click.Context, host: str, port: int, token: str | None, cert: str | None, key_file: str | None,
          insecure: bool, no_open: bool, threads: int, workers: int) -> None:
    """Serve the web app and the REST API (/api/v1) over this archive; prints the login URL."""
    import uvicorn

    from .accounts import new_secret
    from .app import CONFIG_ENV, create_app
    from .config import ServerConfig

    check_binding(host, cert, key_file, insecure)
    root = ctx.find_root().obj
    with open_archive(ctx) as archive:  # a mistyped --db fails here, with its one line; the migration runs once
        where = archive.location() if is_postgres(root["db"]) else root["db"]  # a URL without its password
    token = token or new_secret()
    config = ServerConfig(db=root["db"], token=token, owner=root["operator"], tls=bool(cert), threads=threads,
                          # (starlette's host check cannot read an IPv6 Host header: [::1] is left unchecked)
                          allowed_hosts=["127.0.0.1", "localhost"] if is_loopback(host) and ":" not in host else None)
    if workers == 1:
        app: object = create_app(config)
    else:  # each process builds its own app from the settings (uvicorn forks or spawns them)
        import orjson

        from ..vault.keys import export_to_environment

        export_to_environment()  # an encrypted archive's key (a key file's path, or the passphrase typed)

        os.environ[CONFIG_ENV] = orjson.dumps({
            "db": str(config.db), "token": config.token, "owner": config.owner, "tls": config.tls,
            "threads": config.threads, "allowed_hosts": config.allowed_hosts}).decode()
        app = "chataudit.web.app:app_from_environment"
    scheme = "https" if cert else "http"
    shown_host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown_host}:{port}/?token={token}"
    click.echo(f"chataudit serving {where} at {scheme}://{shown_host}:{port}/ (Ctrl-C to stop)", err=True)
    click.echo(f"open this URL to log in as {config.owner} (admin): {url}", err=True)
    if not is_loopback(host) and not cert:
        click.echo("warning: plain HTTP on a non-loopback address: passwords and tokens cross the network unencrypted",
                   err=True)
    if not no_open and sys.stdout.isatty() and os.environ.get("DISPLAY"):
        import webbrowser

        webbrowser.open(url)
    settings = dict(host=host, port=port, ssl_certfile=cert, ssl_keyfile=key_file, log_level="warning",
                    server_header=False)
    if workers == 1:
        uvicorn.run(app, **settings)
    else:
        _run_workers(uvicorn.Config(app, workers=workers, factory=True, **settings))


def _run_workers(config: "uvicorn.Config") -> None:
    """uvicorn's own multi-process start (``uvicorn.run(workers=N)``), on a socket bound here: the
    one uvicorn binds is made without ``IPPROTO_TCP``, so asyncio does not set TCP_NODELAY on its
    connections, and every small answer written in two parts waited ≈ 40 ms for a delayed ACK."""
    import socket

    from uvicorn.supervisors import Multiprocess

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as error:
        sock.close()
        raise ChatAuditError(f"cannot listen on {config.host}:{config.port}: {error.strerror}") from None
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


@click.group("user")
def user() -> None:
    """Users of the web app and their roles (admin, lead, reviewer, agent, auditor)."""


def _password(confirm: bool = True) -> str:
    return click.prompt("password", hide_input=True, confirmation_prompt=confirm)


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, metavar="ROLE",
              help="One of: " + "; ".join(f"{role}: {text}" for role, text in DESCRIPTIONS.items()) + ".")
@click.option("--token", "with_token", is_flag=True, help="Also make an API token for scripts (printed once).")
@click.pass_context
@friendly_errors
def user_add(ctx: click.Context, name: str, role: str, with_token: bool) -> None:
    """Add a user; asks for the password (at least 8 characters; stored as an argon2id hash)."""
    from . import accounts

    with open_archive(ctx) as archive:  # a mistyped --db or role fails before the password is asked for
        accounts.check_new_user(archive, name, role)
        accounts.add_user(archive, name, role, _password())
        token = accounts.new_token(archive, name) if with_token else None
    click.echo(f"user {name} added ({role})")
    if token:
        click.echo(f"API token (shown once; send as `Authorization: Bearer …`): {token}")


@user.command("list")
@json_option
@click.pass_context
@friendly_errors
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users, their roles, and whether they are disabled."""
    from . import accounts

    with open_archive(ctx) as archive:
        rows = accounts.list_users(archive)
    emit(rows, ["id", "name", "role", "created_at", "disabled_at", "tokens"], as_json=as_json, title="Users")


@user.command("disable")
@click.argument("name")
@click.pass_context
@friendly_errors
def user_disable(ctx: click.Context, name: str) -> None:
    """Disable a user: their sessions and API tokens stop working at once."""
    from . import accounts

    with open_archive(ctx) as archive:
        accounts.disable_user(archive, name)
    click.echo(f"user {name} disabled; sessions and API tokens revoked")


@user.command("reset")
@click.argument("name")
@click.pass_context
@friendly_errors
def user_reset(ctx: click.Context, name: str) -> None:
    """Set a new password (asked for) and enable the user; their sessions and API tokens are revoked."""
    from . import accounts

    with open_archive(ctx) as archive:
        accounts.list_user(archive, name)  # an unknown name fails before the password is asked for
        accounts.reset_user(archive, name, _password())
    click.echo(f"user {name}: new password set; sessions and API tokens revoked")


@user.command("token")
@click.argument("name")
@click.pass_context
@friendly_errors
def user_token(ctx: click.Context, name: str) -> None:
    """Make a new API token for a user (printed once; `user reset` or `user disable` revokes it)."""
    from . import accounts

    with open_archive(ctx) as archive:
        token = accounts.new_token(archive, name)
    click.echo(token)
