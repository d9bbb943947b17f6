"""The command line: arguments → calls into the flows, results → output, errors → exit codes.

`main` assembles one parser from a small module per command group (`new`, `check` (check and
harden), `verify`, `pin`, `seccomp` (seccomp and apparmor), `policy`, `templates` (templates and
update)) and dispatches to them; no logic lives here. The only package that imports every flow
(`scaffold`, `audit`, `engine`, `profiles`, `policy`) and `core`; nothing imports `cli`.
"""
