"""Approvals: the record of a human's decision on one purchase or destructive call (store.py), the one place
that decides whether a call may go out (gate.py), and the faces on it (review.py page, the `approvals` command)."""
