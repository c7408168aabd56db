"""Hosted for a team (--auth-issuer): the OAuth 2.1 resource server in front of /mcp (tokens.py checks the
issuer's JWT access tokens, resource.py answers 401/403 and serves the metadata), who the caller and the
approver are (identity.py), and the approvers' sign-in on the review page (approvers.py)."""
