"""Where backups go: a folder, or an S3-compatible bucket (``s3://bucket/prefix``, through boto3).

A destination stores named objects and never shows a half-written one under its final name: a
folder writes ``NAME.partial``, fsyncs and renames; S3 makes an object visible only when its upload
completes. The manifest is always put after its backup, so a backup without one is not complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol
from urllib.parse import urlparse

from ..errors import ChatAuditError
from ..vault.keys import fsync_folder

S3_ENDPOINT_ENV = "CHATAUDIT_S3_ENDPOINT"  # e.g. a MinIO or other S3-compatible server (else AWS's)


class Destination(Protocol):
    label: str

    def names(self) -> list[str]: ...
    def put_file(self, name: str, local: Path) -> None: ...
    def put_bytes(self, name: str, data: bytes) -> None: ...
    def open(self, name: str) -> BinaryIO: ...
    def size(self, name: str) -> int: ...
    def delete(self, name: str) -> None: ...


class Folder:
    def __init__(self, path: str | os.PathLike[str], create: bool = False):
        self.path = Path(path)
        self.label = str(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise ChatAuditError(f"{self.path}: not a folder")
        if not self.path.exists():
            if not create:  # reading backups never makes a folder (a mistyped DEST says so)
                raise ChatAuditError(f"{self.path}: no such folder")
            self.path.mkdir(parents=True)

    def names(self) -> list[str]:
        return sorted(entry.name for entry in self.path.iterdir() if entry.is_file())

    def writer(self, name: str) -> tuple[BinaryIO, Path]:
        """A file to write NAME into in place (as NAME.partial until :meth:`commit`)."""
        partial = self.path / f"{name}.partial"
        return os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"), partial

    def commit(self, partial: Path, name: str) -> None:
        handle = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(partial, self.path / name)
        fsync_folder(self.path)

    def put_file(self, name: str, local: Path) -> None:
        out, partial = self.writer(name)
        with out, open(local, "rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
        self.commit(partial, name)

    def put_bytes(self, name: str, data: bytes) -> None:
        out, partial = self.writer(name)
        with out:
            out.write(data)
        self.commit(partial, name)

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self.path / name, "rb")
        except FileNotFoundError:
            raise ChatAuditError(f"{self.path / name}: no such backup") from None

    def size(self, name: str) -> int:
        return (self.path / name).stat().st_size

    def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)


class Bucket:
    """An S3-compatible bucket; credentials and region as boto3 finds them (AWS_* variables, profiles)."""

    def __init__(self, url: str):
        import boto3

        parsed = urlparse(url)
        if not parsed.netloc:
            raise ChatAuditError(f"{url}: give s3://BUCKET[/PREFIX]")
        self.bucket, self.prefix = parsed.netloc, parsed.path.strip("/")
        self.label = url
        endpoint = os.environ.get(S3_ENDPOINT_ENV) or None
        self.client = boto3.client("s3", endpoint_url=endpoint)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _call(self, what: str, function, **kwargs):  # type: ignore[no-untyped-def]
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(Bucket=self.bucket, **kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404"}:
                raise ChatAuditError(f"{self.label}: {what}: no such object") from None
            raise ChatAuditError(f"{self.label}: {what}: {code or error}") from None
        except BotoCoreError as error:
            raise ChatAuditError(f"{self.label}: {what}: {error}") from None

    def names(self) -> list[str]:
        found: list[str] = []
        token = None
        start = f"{self.prefix}/" if self.prefix else ""
        while True:
            kwargs = {"Prefix": start, **({"ContinuationToken": token} if token else {})}
            page = self._call("list", self.client.list_objects_v2, **kwargs)
            found.extend(item["Key"][len(start):] for item in page.get("Contents", []) if "/" not in item["Key"][len(start):])
            if not page.get("IsTruncated"):
                return sorted(found)
            token = page["NextContinuationToken"]

    def put_file(self, name: str, local: Path) -> None:
        from boto3.exceptions import S3UploadFailedError

        try:
            self.client.upload_file(str(local), self.bucket, self._key(name))
        except S3UploadFailedError as error:
            raise ChatAuditError(f"{self.label}: upload of {name} failed: {error}") from None

    def put_bytes(self, name: str, data: bytes) -> None:
        self._call(f"put {name}", self.client.put_object, Key=self._key(name), Body=data)

    def open(self, name: str) -> BinaryIO:
        return self._call(f"get {name}", self.client.get_object, Key=self._key(name))["Body"]

    def size(self, name: str) -> int:
        return int(self._call(f"head {name}", self.client.head_object, Key=self._key(name))["ContentLength"])

    def delete(self, name: str) -> None:
        self._call(f"delete {name}", self.client.delete_object, Key=self._key(name))


def destination(text: str, create: bool = False) -> Folder | Bucket:
    """The destination named; ``create``: a folder that does not exist yet is made (to write a backup)."""
    if text.startswith("s3://"):
        return Bucket(text)
    if "://" in text:
        raise ChatAuditError(f"{text}: a backup destination is a folder or s3://BUCKET[/PREFIX]")
    return Folder(text, create)


def iter_names(dest: Folder | Bucket, suffix: str) -> Iterator[str]:
    return (name for name in dest.names() if name.endswith(suffix))
