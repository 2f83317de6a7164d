"""Fact-checking cases: claims, evidence, workflow, ratings, ClaimReview and claim matching.

The models live in factcheck's app (imported by factcheck/models.py). Submissions and reports are
referred to by model label only ("moderation.Submission"): this package never imports moderation.
"""
