"""Personal data: find it (recognizers, incremental archive scan) and de-identify it (operators, policies).

The API the rest of chataudit calls when records leave the archive::

    from chataudit.privacy import Redactor, load_policy
    redactor = Redactor(load_policy(policy_path))   # policy_path None → the built-in default policy
    row = redactor.message(row)                      # message dict → redacted copy
    text = redactor.text(text)

    redact_message(row, policy) / redact_text(text, policy)   # one-shot, policy None → default
"""

from .operators import KeyRing, decrypt_text
from .policy import DEFAULT_POLICY_TOML, Policy, default_policy, load_policy, policy_from_toml
from .recognizers import SENSITIVE, TYPES, Finding, find
from .redact import Redactor, redact_files, redact_message, redact_text

__all__ = [
    "DEFAULT_POLICY_TOML", "Finding", "KeyRing", "Policy", "Redactor", "SENSITIVE", "TYPES", "decrypt_text",
    "default_policy", "find", "load_policy", "policy_from_toml", "redact_files", "redact_message", "redact_text",
]
