"""Evidence packages: a conversation as a zip that anyone can check offline.

    package            ``export_package`` — messages, rendering (HTML, PDF), proofs, checkpoint, custody log
    verify             ``verify_package`` — every check, with chataudit's ledger library
    standalone_verify  the same checks with the standard library only; copied into each package as verify.py
    commands           the ``evidence`` click group (export, verify)
"""

from .package import ExportResult, export_package, parse_withhold
from .verify import verify_package

__all__ = ["ExportResult", "export_package", "parse_withhold", "verify_package"]
