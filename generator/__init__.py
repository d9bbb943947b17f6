"""hardcase: containers secure by construction, proven in a real engine."""

__version__ = "0.1.0"
