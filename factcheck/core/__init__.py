"""Django-free core of fact-check retrieval.

Works on numpy uint8 RGB arrays (H, W, 3) and file paths only, so it can be tested and benchmarked
without a database. Never imports django or `detection`.

Modules:
    fingerprints  PDQ perceptual hashes (and their 8 dihedral variants for queries)
    clip          open_clip image embedder with a per-process model cache
    index         FAISS binary (PDQ) and float (CLIP) indexes with incremental add/remove
    local_index   FAISS index over local-feature descriptors
    index_store   versioned, checksummed, atomically written index files and a hot-reloading reader
    features      SIFT/RootSIFT local features, serialisable for caching
"""
