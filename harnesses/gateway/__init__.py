"""The one way gskill reaches a model: litellm, with deterministic scripted models as a provider.

`models.complete` is the call; `scripted` holds the policies addressable as `scripted/<name>`.
"""

import os

# litellm fetches its model price map from GitHub on import unless told not to: three retries with
# back-off on a machine without that network, for a map it also ships locally. Set before any
# module of this package imports litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
