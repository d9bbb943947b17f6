"""Reports: what `check` and `harden` found and changed, per file, rendered by one module per format.

`model` is format-neutral; `text`, `json` and `sarif` each turn it into one output and nothing else,
so each format has its own exact-output tests; `render` picks one. Imports `audit` records and core.
"""
