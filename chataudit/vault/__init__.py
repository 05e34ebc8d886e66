"""Encryption at rest: the archive as a SQLCipher database, its key from a passphrase (argon2id),
a key file or the environment (:mod:`.keys`), and in-place encrypt / decrypt / re-key (:mod:`.convert`)."""
