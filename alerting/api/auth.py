"""Who is calling and what they may do: bearer tokens, the role each route needs, and the
identity that handlers record as `createdBy` / `acknowledged_by`."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from alerting.api.responses import json_error
from alerting.config import AuthConfig, Role, TokenSpec

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

IDENTITY = web.RequestKey("identity", str)  # the token's name, or ANONYMOUS
ROLE = web.RequestKey("role", Role)  # the caller's role; absent on open routes
ANONYMOUS = "anonymous"
OPEN = None  # a route anyone may call, with or without a token

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RouteRule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    needs: Role | None


def _rule(methods: str, path: str, needs: Role | None) -> RouteRule:
    """`path` is matched against a route's pattern; `*` stands for one segment (`{id}`)."""
    names = set(methods.split())
    if "GET" in names:
        names.add("HEAD")
    parts = ("[^/]+" if part == "*" else re.escape(part) for part in path.split("/"))
    return RouteRule(frozenset(names), re.compile("/".join(parts)), needs)


# The first rule matching method and route wins. Unlisted reads need `read`; unlisted writes
# need `admin`, so a write route nobody classified fails closed until it is added here.
ROUTES: tuple[RouteRule, ...] = (
    # Probes of load balancers and orchestrators carry no credentials and reveal nothing.
    _rule("GET", "/-/healthy", OPEN),
    _rule("GET", "/-/ready", OPEN),
    # The API's description: the same for every deployment, nothing of the config in it.
    _rule("GET", "/api/openapi.json", OPEN),
    _rule("POST PUT", "/-/reload", Role.ADMIN),
    _rule("POST", "/api/v2/alerts", Role.WRITE),
    # PagerDuty and Slack cannot send our token: their requests' signatures authenticate them.
    _rule("POST", "/api/v1/webhooks/pagerduty", OPEN),
    _rule("POST", "/api/v1/webhooks/slack", OPEN),
    _rule("POST", "/api/v1/webhooks/*", Role.WRITE),
    _rule("POST", "/api/v2/silences", Role.WRITE),
    _rule("DELETE", "/api/v2/silence/*", Role.WRITE),
    _rule("POST DELETE", "/api/v1/alerts/*/acknowledge", Role.WRITE),
    _rule("POST", "/api/v1/alerts/*/suppress", Role.WRITE),
    _rule("POST DELETE", "/api/v1/groups/*/acknowledge", Role.WRITE),
    _rule("GET", "/api/v1/alerts/*/history", Role.READ),
    _rule("GET", "/api/v1/groups", Role.READ),
)


def required_role(method: str, route: str) -> Role | None:
    """The role `method` on `route` (a route pattern such as `/api/v2/silence/{id}`) needs."""
    for rule in ROUTES:
        if method in rule.methods and rule.pattern.fullmatch(route):
            return rule.needs
    return Role.READ if method in _READS else Role.ADMIN


def identity(request: web.Request) -> str:
    return request.get(IDENTITY, ANONYMOUS)


def acting_as(request: web.Request, named: str | None) -> str:
    """Whom a handler records as the author: the caller, or the person the request names if the
    caller is an admin (a chat bot acting for people). The audit log always has the caller."""
    if named and request.get(ROLE) is Role.ADMIN:
        return named
    return identity(request)


def middleware(auth: Callable[[], AuthConfig | None]) -> Middleware:
    """Authenticate with the tokens `auth()` returns now, so a reload applies to the next request.
    Without `server.auth` every caller is anonymous and holds every role."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        config = auth()
        if config is None:
            request[IDENTITY], request[ROLE] = ANONYMOUS, Role.ADMIN
            return await handler(request)
        needs = _needs(request)
        if needs is None:  # OPEN
            return await handler(request)
        presented = bearer_token(request.headers.get("Authorization", ""))
        token = _find(config.tokens, presented) if presented else None
        if token is None:
            return _unauthorized(request, "missing" if presented is None else "invalid")
        request[IDENTITY], request[ROLE] = token.name, token.role
        if not token.role.includes(needs):
            message = (
                f"token {token.name!r} has role {token.role}; {request.method} {request.path}"
                f" needs {needs}"
            )
            return json_error(403, "forbidden", message)
        return await handler(request)

    return authenticate


def bearer_token(header: str) -> str | None:
    """The credentials of an `Authorization: Bearer ...` header (the scheme is case-insensitive)."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _needs(request: web.Request) -> Role | None:
    resource = request.match_info.route.resource
    if resource is None:  # a 404 or 405: any caller we know may learn that
        return Role.READ
    return required_role(request.method, resource.canonical)


def _find(tokens: list[TokenSpec], presented: str) -> TokenSpec | None:
    """Compares with every token, so the time taken does not tell which one nearly matched."""
    found = None
    for token in tokens:
        if token.matches(presented):
            found = token
    return found


def _unauthorized(request: web.Request, why: str) -> web.Response:
    log.warning(
        "%s bearer token",
        why,
        extra={"remote": request.remote, "method": request.method, "path": request.path},
    )
    challenge = 'Bearer realm="alerting"'
    if why == "invalid":
        challenge += ', error="invalid_token"'
    return json_error(
        401, "unauthorized", f"{why} bearer token", headers={"WWW-Authenticate": challenge}
    )
