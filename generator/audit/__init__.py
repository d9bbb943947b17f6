"""The convert/audit flow (`hardcase check`, `harden`): parse (BuildKit's parser; ruamel round trip for
compose) → rules (records: `rules/` HC0xx, `compose_rules/` HC1xx) → fixes (edits, to a fixed point)
→ `report/` (text, json, sarif); package-version resolution for HC048 in `packages/`.
Imports only `core`: other flows' findings (the org policy) come in as arguments and registrations.
"""
