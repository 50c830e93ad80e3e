"""Mining a repository's history into validated fail-to-pass tasks. (Shadows PyPI's swesmith on purpose.)"""
