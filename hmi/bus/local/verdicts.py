"""The RPC authorizer's verdicts, kept a moment: a burst of calls is checked once.

An authorizer (:data:`hmi.bus.local.rpc.Authorizer`) verifies the caller's session token with
the security service, checks the node and the grants; that costs a verification (an RPC
to the security service on any node but the backend's, ~90 us of PyJWT on it) and, being
asynchronous, a task and a turn of the loop per call. :class:`CachedAuthorizer` keeps
each accepted verdict for :data:`VERDICT_SECONDS` (0.5 s), so further calls with the
same token, from the same node, to the same method, are dispatched at once, on the
dispatcher's synchronous path (:func:`hmi.bus.local.rpc.dispatched`: no task, no extra turn of
the loop).

Why 0.5 s (docs/security.md, "Revocation reaches every door"): a logout or a disabled
user must reach every door within 1 s. A verdict is kept from the moment its check
*began* (a check in flight when the user was logged out may still have said yes), for at
most 0.5 s, and never past its token's expiry; after that the next call is checked again
with the security service, which knows the logout. So a revoked session is refused at
the latest 0.5 s after the security service knew, plus the time of that check. Refusals
are never kept: each is checked, and audited, anew.

Memory is bounded: at most :data:`MAX_VERDICTS` verdicts (when full, the stale ones are
forgotten, or all of them if most are fresh), each forgotten when it is found stale.
"""

from __future__ import annotations

from hmi.bus.local.clock import Clock, RealClock
from hmi.bus.local.rpc import Authorizer, RpcRequest
from hmi.core.identity import Identity

#: how long (s) an accepted verdict is kept: half the 1 s in which a logout or a disabled
#: user must reach every door
VERDICT_SECONDS = 0.5
#: verdicts kept at most (a token, node and method each; the oldest forgotten first)
MAX_VERDICTS = 4096

_Key = tuple[str, str | None, str, str]


class CachedAuthorizer:
    """An :data:`hmi.bus.local.rpc.Authorizer` that keeps the verdicts of ``authorize`` for at
    most ``seconds`` of ``clock`` (see the module docstring).

    Await it as the authorizer it wraps; :meth:`cached` answers at once from what it
    keeps (the dispatcher's synchronous path), None when it must be asked.
    """

    def __init__(
        self,
        authorize: Authorizer,
        *,
        clock: Clock | None = None,
        seconds: float = VERDICT_SECONDS,
        most: int = MAX_VERDICTS,
    ) -> None:
        self._authorize = authorize
        self._clock: Clock = clock if clock is not None else RealClock()
        self.seconds = seconds
        self.most = most
        #: (token, sender, target, method) -> (identity, until: monotonic seconds)
        self._verdicts: dict[_Key, tuple[Identity, float]] = {}

    def __len__(self) -> int:
        return len(self._verdicts)

    def cached(self, request: RpcRequest) -> Identity | None:
        """The identity a kept verdict accepted ``request`` for, or None (none kept, or
        stale: then forgotten). Never raises, never awaits."""
        key = (request.token, request.sender, request.target, request.method)
        kept = self._verdicts.get(key)
        if kept is None:
            return None
        if self._clock.monotonic() < kept[1]:
            return kept[0]
        del self._verdicts[key]
        return None

    async def __call__(self, request: RpcRequest) -> Identity:
        """The identity ``request`` is made by (kept, or checked by the wrapped
        authorizer, which raises PermissionError to refuse)."""
        identity = self.cached(request)
        if identity is not None:
            return identity
        began = self._clock.monotonic()
        identity = await self._authorize(request)
        self._keep(request, identity, began)
        return identity

    def _keep(self, request: RpcRequest, identity: Identity, began: float) -> None:
        if not request.token or not isinstance(identity, Identity):
            return
        # never past the token's expiry (wall time: the token's), at most `seconds` from
        # when the check began
        left = identity.expires - self._clock.time()
        until = began + min(self.seconds, left)
        if until <= self._clock.monotonic():
            return
        verdicts = self._verdicts
        if len(verdicts) >= self.most:
            # Stale ones go first; when all are fresh (more sessions calling within half a
            # second than the cache holds), all go: they are only a shortcut.
            now = self._clock.monotonic()
            fresh = {key: kept for key, kept in verdicts.items() if kept[1] > now}
            self._verdicts = verdicts = fresh if len(fresh) < self.most // 2 else {}
        verdicts[(request.token, request.sender, request.target, request.method)] = (
            identity,
            until,
        )

    def forget(self) -> None:
        """Forget every verdict: the next call of each is checked again."""
        self._verdicts.clear()
