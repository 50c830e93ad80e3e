"""Language profiles: what mining, env images and grading need to know about a language.

`profile_named("go")`, `detect_language(paths)`; the contract is `languages.base.Profile`.
"""

from languages.base import PROFILES, Profile, detect_language, profile_named, register

_MODULES = ("languages.python", "languages.golang", "languages.rust")


def load_profiles() -> None:
    """Import every profile module once (each registers itself); order = detection order."""
    import importlib

    for module in _MODULES:
        importlib.import_module(module)


def readme_table() -> str:
    """The README's languages table (markdown), from the registered profiles."""
    load_profiles()
    rows = [
        f"| `{p.name}` | {', '.join(f'`{m}`' for m in p.markers)} | {p.test_spec.name} | {p.needs} | "
        f"{', '.join(p.strategies)} | {p.limits} |"
        for p in PROFILES.values()
    ]
    header = "| `--language` | detected by | tests | needs | strategies | known limits |\n|---|---|---|---|---|---|"
    return "\n".join([header, *rows]) + "\n"


__all__ = ["PROFILES", "Profile", "detect_language", "load_profiles", "profile_named", "readme_table", "register"]
