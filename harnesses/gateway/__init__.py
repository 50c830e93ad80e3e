"""The one way gskill reaches a model: litellm, with deterministic scripted models as a provider.

`models.complete` is the call; `scripted` holds the policies addressable as `scripted/<name>`.
"""
