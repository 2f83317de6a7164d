"""FAISS file and structure helpers for published indexes: what can be memory-mapped, the ids
an index holds, and an empty copy of a trained structure for the rows of a delta."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

# FAISS 1.15 maps, with IO_FLAG_MMAP_IFC, the codes of flat indexes (IndexFlat*, IndexBinaryFlat,
# IndexScalarQuantizer, inside an IDMap) and, with the IO_FLAG_MMAP it includes, the inverted
# lists of IVF indexes (IndexIVF*, IndexBinaryIVF, behind a PCA IndexPreTransform too). What it
# still copies into each process: an IDMap's id list (8 bytes per entry; IDMap2 would also build
# a hash map of ~40 bytes per entry, so new indexes use IDMap), coarse quantizers and transforms
# (small). PDQ's multi-index hash tables are numpy arrays: the writer publishes them next to the
# base (`write_mih`) and readers map them too (factcheck.core.index_store).
MMAP_FLAGS = faiss.IO_FLAG_MMAP_IFC


def index_row_ids(index: Any) -> np.ndarray:
    """The id of every entry of a FAISS index with ids (IDMap or inverted file)."""
    if hasattr(index, "id_map"):  # IndexIDMap(2) / IndexBinaryIDMap(2)
        ids: np.ndarray = faiss.vector_to_array(index.id_map).astype(np.int64)
        return ids
    ivf = index if hasattr(index, "invlists") else faiss.extract_index_ivf(index)
    invlists = ivf.invlists  # IVF: ids live in the inverted lists
    per_list = [np.zeros(0, np.int64)]
    for list_no in range(invlists.nlist):
        size = invlists.list_size(list_no)
        if size:
            pointer = invlists.get_ids(list_no)
            per_list.append(faiss.rev_swig_ptr(pointer, size).astype(np.int64))
    return np.concatenate(per_list)


def empty_trained_copy(index: Any) -> Any:
    """A copy of a trained inverted-file index (its quantizer, transforms, codec) without its
    entries. The entries are swapped out around the clone, so a memory-mapped base is never read
    whole: a delta costs the size of the structure (a few MB), not of the index. Not safe while
    another thread searches `index` (only the single writer calls it, on its own copy)."""
    binary = isinstance(index, faiss.IndexBinary)
    ivf = index if hasattr(index, "invlists") else faiss.extract_index_ivf(index)
    lists, owned = ivf.invlists, ivf.own_invlists
    empty = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
    ivf.own_invlists = False  # keep the real lists alive while the empty ones stand in
    ivf.replace_invlists(empty, False)
    try:
        copy = faiss.clone_binary_index(index) if binary else faiss.clone_index(index)
    finally:
        ivf.replace_invlists(lists, owned)
    copy.reset()  # the clone copied the entry count
    return copy


@dataclass(frozen=True)
class CoarseAssignment:
    """Queries in an inverted file's space (after its transforms, e.g. PCA) and the lists they
    probe. Every delta of an inverted-file base has the base's quantizer (`empty_trained_copy`),
    so this is computed once per query for all of them: at 8,192 lists and 1,000 local
    descriptors per query it is most of a layer's search."""

    vectors: np.ndarray
    distances: np.ndarray
    lists: np.ndarray


def coarse_assignment(index: Any, queries: np.ndarray) -> CoarseAssignment | None:
    """The assignment of `queries` by a float inverted-file index; None for other indexes."""
    try:
        ivf = faiss.extract_index_ivf(index)
    except (RuntimeError, TypeError):  # flat: nothing to share
        return None
    vectors = queries
    for position in range(index.chain.size() if hasattr(index, "chain") else 0):
        vectors = index.chain.at(position).apply(vectors)
    distances, lists = ivf.quantizer.search(vectors, ivf.nprobe)
    return CoarseAssignment(np.ascontiguousarray(vectors), distances, lists)


def search_assigned(
    index: Any, assignment: CoarseAssignment, rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, ids) of `index.search` for the queries `rows` of `assignment`, exactly, from
    their precomputed lists (`index` must share the quantizer that assigned them)."""
    distances, ids = faiss.extract_index_ivf(index).search_preassigned(
        assignment.vectors[rows], k, assignment.lists[rows], assignment.distances[rows]
    )
    return distances, ids


def read_index_file(path: str, *, binary: bool = False, mmap: bool = True) -> Any:
    """A FAISS index file, memory-mapped unless `mmap` is False. FAISS reports a missing file as
    a RuntimeError; a file pruned by the writer between a reader's manifest read and this open
    becomes FileNotFoundError, so the reader re-reads the manifest and retries."""
    read = faiss.read_index_binary if binary else faiss.read_index
    try:
        return read(path, MMAP_FLAGS if mmap else 0)
    except RuntimeError as error:
        if not os.path.exists(path):
            raise FileNotFoundError(path) from error
        raise
