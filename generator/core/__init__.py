"""The shared core: errors and exit codes, YAML I/O, shipped resources, records, atomic file writes,
and the image knowledge every flow reads (image references, registry mirrors, the base-image
catalog, the security controls). Imports nothing else of hardcase, so every flow may import it.
"""
