"""chataudit: find, compare, prove and judge what was said in chat records."""

__version__ = "0.1.0"
