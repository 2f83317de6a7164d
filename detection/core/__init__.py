"""Django-free core of manipulation detection.

Works on numpy uint8 RGB arrays (H x W x 3) and file paths only, so it can be benchmarked
and tested without a database. Never import django or factcheck from here.
"""
