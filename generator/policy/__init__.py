"""The org policy: policy files (schema, discovery, layering), their rules, `policy audit` of a
project, and `findings`, which turns violations into `check`/`harden` findings (POLxxx) and
registers those rules with the audit flow. May import `audit` and `core`; never `cli` or `scaffold`.
Kept import-free: `check` imports `findings` on every run and must stay fast.
"""
