"""gskill: learn repository-specific skills for coding agents."""

__version__ = "0.1.0"
