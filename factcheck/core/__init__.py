"""Django-free core of fact-check retrieval.

Works on numpy uint8 RGB arrays (H, W, 3) and file paths only, so it can be tested and benchmarked
without a database. Never imports django or `detection`, nor `factcheck.evaluation` or
`factcheck.training` (which import it): this is what an analyze worker loads.

Modules:
    fingerprints  PDQ perceptual hashes (and their 8 dihedral variants for queries)
    clip          open_clip image embedder with a per-process model cache
    index         FAISS binary (PDQ) and float (CLIP) indexes with incremental add/remove
    index_store   versioned, checksummed, atomically written index files (a base, appended
                  deltas, removed ids) and a hot-reloading, memory-mapping reader
    index_manifest  manifests (format 2: base, deltas, removed ids) and atomic file writes
    layered       a base and its deltas searched as one index
    faiss_io      what FAISS memory-maps, ids held by an index, empty trained copies for deltas
    features      SIFT/RootSIFT local features, serialisable for caching
    verify        kNN matching + MAGSAC homography with spread and sanity checks
    localize      edit localisation (aligned difference map -> mask, regions, overlay)
    matcher       orchestration: candidates -> verification -> localisation -> ranked matches
    local_index   local-descriptor voting index (candidates for crops, borders, captions)
"""
