"""The README documents every command: a command missing from it fails here (as sqlite-utils does)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from chataudit.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = prefix + (name,)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(command_paths(command, path))
    return found


def test_every_command_is_in_the_readme() -> None:
    missing = [" ".join(path) for path in command_paths(cli)
               if not re.search(r"chataudit (?:\[--db PATH\] )?" + re.escape(" ".join(path)) + r"\b", README)]
    assert missing == []


def test_readme_starts_with_the_two_setup_commands() -> None:
    block = README.split("```", 2)[1]
    assert [line.split()[0:2] for line in block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]


def test_every_listing_command_documents_its_json_keys() -> None:
    with_json = [" ".join(path) for path in command_paths(cli)
                 if any(p.name == "as_json" for p in _command(path).params)]
    undocumented = [name for name in with_json if f"`{name} --json`" not in README and f"`{name.split()[0]} --json`" not in README]
    assert undocumented == []


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        command = command.get_command(click.Context(command), name)  # type: ignore[union-attr]
    return command
