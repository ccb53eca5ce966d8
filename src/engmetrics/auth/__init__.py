"""Who may see what: roles, API tokens (stored hashed) and the team scope of results."""

from .roles import ROLES, Principal, Role
from .scope import visible_results
from .tokens import AuthError, NewToken, TokenInfo, authenticate, create_token, list_tokens, revoke_token

__all__ = ["ROLES", "AuthError", "NewToken", "Principal", "Role", "TokenInfo", "authenticate", "create_token",
           "list_tokens", "revoke_token", "visible_results"]
