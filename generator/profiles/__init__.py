"""Kernel confinement profiles: seccomp (build, check with libseccomp, diff, learn from a running
service through the kernel's audit log) and AppArmor. May import `engine` (learn runs the service)
and `core`; never `cli`, `scaffold` or `policy`.
"""
