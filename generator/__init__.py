"""hardcase: containers secure by construction, proven in a real engine.

One package per flow: `cli` on top; `scaffold` (generate), `profiles` (seccomp, AppArmor), `policy`,
`engine` (verify, pin) and `audit` (check, harden) below it; `core` at the bottom. The import
contracts in pyproject.toml keep that order (README "Layout").
"""

__version__ = "0.1.0"
