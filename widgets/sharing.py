"""Serving the lab to others: sign-in options and who sees which runs.

Without sign-in, everyone who can open the page shares the server's runs folder: the setting
for one person, a trusted group, Binder (one user per server) and JupyterHub (each user's own
server, reached through jupyter-server-proxy, which checks the user's Jupyter login). With
sign-in (Panel's basic auth or OAuth), each signed-in user gets a folder of their own,
``<runs folder>/users/<name>``, and sees only the runs in it. Signed cookies need a secret that
outlives the process and is the same on every replica: it is read from the environment
(``SCIML_LAB_COOKIE_SECRET``), never from the command line, where ``ps`` shows it.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from lab.training.runs import default_runs_dir

COOKIE_SECRET_ENV = "SCIML_LAB_COOKIE_SECRET"
#: the basic-auth password (or users file) and the OAuth secret may come from these instead
BASIC_AUTH_ENV = "SCIML_LAB_BASIC_AUTH"
OAUTH_SECRET_ENV = "SCIML_LAB_OAUTH_SECRET"


def auth_options(basic_auth: str | None, oauth_provider: str | None, oauth_key: str | None,
                 oauth_redirect_uri: str | None) -> dict:
    """Keyword arguments of ``panel.serve`` for sign-in; empty when nobody has to sign in.

    Raises ``ValueError`` (one line for the CLI) when sign-in is asked for without a cookie
    secret, or with both methods at once.
    """
    basic_auth = basic_auth or os.environ.get(BASIC_AUTH_ENV) or None
    if not (basic_auth or oauth_provider):
        return {}
    if basic_auth and oauth_provider:
        raise ValueError("choose one sign-in method: --basic-auth or --oauth-provider, not both")
    secret = os.environ.get(COOKIE_SECRET_ENV, "")
    if len(secret) < 32:
        raise ValueError(f"sign-in needs a cookie secret of at least 32 characters in {COOKIE_SECRET_ENV} "
                         "(make one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\")")
    if basic_auth:
        return {"basic_auth": basic_auth, "cookie_secret": secret}
    oauth_secret = os.environ.get(OAUTH_SECRET_ENV)
    if not (oauth_key and oauth_secret):
        raise ValueError(f"--oauth-provider needs --oauth-key and the client secret in {OAUTH_SECRET_ENV}")
    return {"oauth_provider": oauth_provider, "oauth_key": oauth_key, "oauth_secret": oauth_secret,
            "oauth_redirect_uri": oauth_redirect_uri, "cookie_secret": secret}


def user_runs_dir(runs_dir: str | None, user: str) -> str:
    """``<runs folder>/users/<name>``: a folder name made from the user's name that cannot leave
    the runs folder (``..``, separators) nor collide for two names (a short hash of the name)."""
    if not user:
        raise ValueError("a signed-in session has no user name")
    safe = re.sub(r"[^A-Za-z0-9_.@-]", "_", user).strip(".")[:64] or "user"
    digest = hashlib.sha256(user.encode()).hexdigest()[:8]
    root = Path(runs_dir) if runs_dir else default_runs_dir()
    return str(root / "users" / f"{safe}-{digest}")
