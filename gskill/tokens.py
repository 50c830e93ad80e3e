"""Token counts (tiktoken, o200k_base): the engine's skill budgets, the scripted reflector's simplify.

Here, not in `gskill.engine`, so the gateway's scripted models count as the engine does without importing
the optimizer.

tiktoken downloads its BPE files on first use; litellm ships them, so we point tiktoken at litellm's
copy (found without importing litellm, which takes seconds) and stay offline-capable.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

ENCODING = "o200k_base"


@functools.lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        spec = importlib.util.find_spec("litellm")
        if spec and spec.origin:
            bundled = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
            if bundled.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


def candidate_tokens(candidate: dict[str, str]) -> int:
    return sum(count_tokens(text) for text in candidate.values())
