-- 0009 (ledger): one byte per field of a message's leaf (the low byte of the CRC-32 of the field as
-- serialized in the leaf), kept beside the leaf hash so that `verify` can say which field of a
-- changed message differs ("differs in amount"). Not signed and not evidence: the signed leaf hash
-- detects the change; this only names it. NULL for leaves appended before it existed.
-- PostgreSQL dialect of ../0012_ledger_field_fingerprints.sql (same number, same tables and meaning).

ALTER TABLE ledger_leaves ADD COLUMN fields BYTEA;
