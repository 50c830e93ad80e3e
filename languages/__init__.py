"""Language profiles: what mining, env images and grading need to know about a language.

`profile_named("go")`, `detect_language(paths)`; the contract is `languages.base.Profile`.
"""

from languages.base import PROFILES, Profile, detect_language, profile_named, register

_MODULES = ("languages.python", "languages.golang", "languages.rust", "languages.typescript")


def load_profiles() -> None:
    """Import every profile module once (each registers itself); detection order = `_MODULES` order,
    whichever profile module was imported first (a test importing `languages.typescript.source`
    registers that profile before Python's)."""
    import importlib

    for module in _MODULES:
        importlib.import_module(module)

    def rank(profile: Profile) -> int:
        home = type(profile).__module__
        return next((i for i, module in enumerate(_MODULES) if home == module or home.startswith(module + ".")), 99)

    ordered = sorted(PROFILES.items(), key=lambda item: rank(item[1]))
    PROFILES.clear()
    PROFILES.update(ordered)


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
