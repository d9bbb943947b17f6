"""The runtime proof: the one adapter to Docker and Compose (`docker`), `verify` and its data-driven
probes, host /proc reading, and the registry API (`registry`, `pin`). May import `audit` (pin reads
Dockerfiles with its parser) and `core`; never `cli`, `scaffold`, `profiles` or `policy`.
"""
