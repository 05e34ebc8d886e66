"""E-mail threading in the manner of jwz's algorithm: a union over the whole reference graph.

Outlook and many mobile clients send ``In-Reply-To``/``References`` naming only the direct parent,
so the thread root cannot be read off one message: A ← B ← C is one thread only because B names A
and C names B.  :class:`Threads` is fed the headers of every message of one parse (an mbox, a
folder of .eml files) in a first pass, then names each message's thread:

* every Message-ID a message carries or names (own, ``In-Reply-To``, ``References``) is a node;
  the nodes a message touches are united;
* a message with neither ``References`` nor ``In-Reply-To`` whose subject carries a reply or
  forward prefix (``Re:``, ``回复：``, ``AW:``, ``RE[2]:`` …, see
  :func:`~chataudit.formats.email_text.normalize_subject`) joins the first message in the parse
  that starts a thread with that subject (jwz's subject grouping as a fallback); a message with
  no Message-ID at all is keyed ``subject:`` + its normalized subject;
* a thread's id is its root: from a message, follow parents (its ``References[0]``, else its
  ``In-Reply-To``) through the messages present until one has none — the first message's own
  Message-ID when the thread is complete, as before, whichever way its replies name ancestors.

The thread's *aliases* are all the Message-IDs in it: the store files the thread under a stored
conversation that already owns one of them, so a reply imported later joins its parent's thread.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBJECT = "subject:"


@dataclass(frozen=True)
class Head:
    """The threading headers of one message."""

    own: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str  # normalized (no reply/forward prefixes), case-folded
    is_reply: bool  # the subject carried a reply/forward prefix

    @property
    def refs(self) -> tuple[str, ...]:
        return self.references + self.in_reply_to

    @property
    def parent(self) -> str | None:
        """The oldest ancestor the message itself names (References[0], else In-Reply-To)."""
        return self.references[0] if self.references else (self.in_reply_to[0] if self.in_reply_to else None)

    @property
    def node(self) -> str:
        return self.own or self.parent or SUBJECT + self.subject

    @property
    def rule(self) -> str:
        """How the message names its thread itself: references, in-reply-to, message-id or subject."""
        if self.references:
            return "references"
        if self.in_reply_to:
            return "in-reply-to"
        return "message-id" if self.own else "subject"


class Threads:
    """Union-find over the reference graph of one parse; see the module docstring."""

    def __init__(self) -> None:
        self._up: dict[str, str] = {}
        self._parent: dict[str, str] = {}  # a present message's id (or subject key) -> its parent node
        self._order: list[str] = []  # node of each message, in parse order
        self._starters: dict[str, str] = {}  # subject -> node of the first message starting a thread with it
        self._by_subject: list[tuple[str, str]] = []  # (node, subject) of reply-prefixed messages with no refs
        self._root: dict[str, str] | None = None  # component -> thread id
        self._aliases: dict[str, tuple[str, ...]] = {}
        self.joined_by_subject: set[str] = set()

    def _find(self, key: str) -> str:
        up = self._up
        up.setdefault(key, key)
        while up[key] != key:
            up[key] = up[up[key]]
            key = up[key]
        return key

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._up[rb] = ra

    def add(self, head: Head) -> None:
        node = head.node
        self._find(node)
        for ref in head.refs:
            self._union(node, ref)
        if head.own and head.parent and head.parent != head.own:
            self._parent.setdefault(head.own, head.parent)
        if not head.refs and head.subject:
            if head.own and not head.is_reply:
                self._starters.setdefault(head.subject, node)
            else:
                self._by_subject.append((node, head.subject))
        self._order.append(node)
        self._root = None

    def _finish(self) -> None:
        for node, subject in self._by_subject:
            starter = self._starters.get(subject)
            if starter is not None and starter != node:
                self._union(starter, node)
                self._parent.setdefault(node, starter)
                self.joined_by_subject.add(node)
        roots: dict[str, tuple[int, str]] = {}
        for node in self._order:
            root = self._walk(node)
            rank = 1 if root.startswith(SUBJECT) else 0  # a real Message-ID names a thread better
            component = self._find(node)
            if component not in roots or rank < roots[component][0]:
                roots[component] = (rank, root)
        self._root = {component: root for component, (_, root) in roots.items()}
        members: dict[str, list[str]] = {}
        for key in self._up:
            if not key.startswith(SUBJECT):
                members.setdefault(self._find(key), []).append(key)
        self._aliases = {component: tuple(sorted(keys)) for component, keys in members.items()}

    def _walk(self, node: str) -> str:
        seen = {node}
        while node in self._parent and self._parent[node] not in seen:
            node = self._parent[node]
            seen.add(node)
        return node

    def thread(self, head: Head) -> tuple[str, tuple[str, ...]]:
        """(thread id, every Message-ID in the thread) of a message fed to :meth:`add`."""
        if self._root is None:
            self._finish()
        assert self._root is not None
        component = self._find(head.node)
        if component not in self._root:  # not fed in the first pass: it threads on its own
            return head.parent or head.node, tuple(k for k in (head.own, *head.refs) if k)
        return self._root[component], self._aliases.get(component, ())
