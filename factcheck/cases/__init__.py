"""Fact-checking cases: claims, evidence, workflow, ratings, ClaimReview and claim matching.

The models live in factcheck's app (imported by factcheck/models.py). Cases know nothing of
submissions: escalation and the links of submissions to cases are moderation's
(moderation.escalation), and this package never refers to moderation, not even by model label
(tests/test_architecture.py).
"""
