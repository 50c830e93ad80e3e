"""Language profiles: what mining, env images and grading need to know about a language.

`profile_named("go")`, `detect_language(paths)`; the contract is `languages.base.Profile`.
"""

from languages.base import PROFILES, Profile, detect_language, profile_named, register

_MODULES = ("languages.python",)


def load_profiles() -> None:
    """Import every profile module once (each registers itself); order = detection order."""
    import importlib

    for module in _MODULES:
        importlib.import_module(module)


__all__ = ["PROFILES", "Profile", "detect_language", "load_profiles", "profile_named", "register"]
