"""The generate flow (`hardcase new`, `update`, `templates check`): questions (the only questionary
adapter) → answers (layered, validated) → context → templating (sandboxed) → plan → write (atomic,
conflict policy, --dry-run); detection, presets, template sources and hooks, update/merge.
May import `profiles`, `policy`, `engine`, `audit` and `core`; never `cli`.
"""
