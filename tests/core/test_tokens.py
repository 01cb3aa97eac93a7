"""Session tokens: JWTs (PyJWT), HS256 with a key id, the claims required and checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from hmi.core.identity import (
    ISSUER,
    Identity,
    InvalidToken,
    issue_token,
    key_id,
    read_token,
    verify_token,
)

KEY = b"k" * 32
OLD_KEY = b"o" * 32
PLANT = "Demo plant"
WHO = Identity(
    "alice", frozenset({"operator", "viewer"}), node="hmi-1", expires=1900.0, session="s1"
)


def token(identity: Identity = WHO, key: bytes = KEY, audience: str = PLANT) -> str:
    return issue_token(identity, key, audience=audience, issued_at=1000.0, session_start=400.0)


def claims(**changes: object) -> dict[str, object]:
    """The claims of :func:`token`, changed."""
    base: dict[str, object] = {
        "sub": "alice",
        "roles": ["operator"],
        "node": "hmi-1",
        "sid": "s1",
        "iat": 1000.0,
        "exp": 1900.0,
        "auth_time": 1000.0,
        "aud": PLANT,
        "iss": ISSUER,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, object], key: bytes = KEY, **header: object) -> str:
    """A token made by hand, as an attacker (or a careless peer) could make one."""
    headers = {"kid": key_id(key), **header}
    return jwt.encode(payload, key, algorithm=str(headers.pop("alg", "HS256")), headers=headers)


def b64(data: dict[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def by_hand(header: dict[str, object], payload: dict[str, object], digest: str = "sha256") -> str:
    """A token signed with :data:`KEY` whatever its header says (PyJWT checks headers)."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    signature = hmac.new(KEY, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def test_a_token_is_an_hs256_jwt_with_a_key_id_and_every_claim():
    text = token()
    header = jwt.get_unverified_header(text)
    assert header["alg"] == "HS256"
    assert header["kid"] == key_id(KEY) == hashlib.sha256(KEY).hexdigest()[:16]
    body = jwt.decode(text, options={"verify_signature": False})
    assert body == {
        "sub": "alice",
        "roles": ["operator", "viewer"],
        "node": "hmi-1",
        "sid": "s1",
        "iat": 1000.0,
        "exp": 1900.0,
        "auth_time": 400.0,
        "aud": PLANT,
        "iss": "hmi-security",
    }
    read = read_token(text, KEY, audience=PLANT, now=1000.0)
    assert read.identity == WHO
    assert (read.issued, read.started, read.key_id) == (1000.0, 400.0, key_id(KEY))


def test_a_token_proves_its_identity_until_it_expires():
    text = token()
    assert verify_token(text, KEY, now=1899.9, audience=PLANT) == WHO
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(text, KEY, now=1900.0, audience=PLANT)
    with pytest.raises(InvalidToken, match="in the future"):
        verify_token(text, KEY, now=900.0, audience=PLANT)
    # without a time, an expired token still reads (logout ends its session)
    assert read_token(text, KEY, audience=PLANT).identity == WHO


def test_a_token_of_another_plant_is_refused():
    with pytest.raises(InvalidToken, match="another plant"):
        verify_token(token(audience="Other plant"), KEY, now=1000.0, audience=PLANT)
    with pytest.raises(InvalidToken, match="another plant"):
        verify_token(token(), KEY, now=1000.0)  # the default audience is not the plant's
    for audience in (["x", PLANT], [PLANT]):  # one audience, a string
        with pytest.raises(InvalidToken, match="another plant"):
            verify_token(signed(claims(aud=audience)), KEY, now=1000.0, audience=PLANT)


def test_alg_none_and_other_algorithms_are_refused():
    unsigned = f"{b64({'alg': 'none', 'kid': key_id(KEY)})}.{b64(claims())}."
    with pytest.raises(InvalidToken, match="algorithm 'none'"):
        verify_token(unsigned, KEY, now=1000.0, audience=PLANT)
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": key_id(KEY)})
    with pytest.raises(InvalidToken, match="algorithm 'none'"):
        verify_token(unsigned, KEY, now=1000.0, audience=PLANT)
    hs512 = by_hand({"alg": "HS512", "kid": key_id(KEY)}, claims(), "sha512")
    with pytest.raises(InvalidToken, match="algorithm 'HS512'"):
        verify_token(hs512, KEY, now=1000.0, audience=PLANT)
    no_alg = f"{b64({'kid': key_id(KEY)})}.{b64(claims())}.{token().split('.')[2]}"
    with pytest.raises(InvalidToken, match="algorithm None"):
        verify_token(no_alg, KEY, now=1000.0, audience=PLANT)


def test_forged_or_altered_tokens_are_refused():
    genuine = token()
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(genuine, b"other key" * 4, now=1000.0, audience=PLANT)
    # the claims of an admin, with the signature of an operator's token
    head, _, signature = genuine.split(".")
    admin = b64(claims(roles=["admin"]))
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(f"{head}.{admin}.{signature}", KEY, now=1000.0, audience=PLANT)
    # signed with another key, claiming to be ours by its kid
    forged = signed(claims(roles=["admin"]), b"x" * 32, kid=key_id(KEY))
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(forged, KEY, now=1000.0, audience=PLANT)
    for junk in ("", "abc", "a.b.c", "!!.!!", "a.b", None, 42):
        with pytest.raises(InvalidToken):
            verify_token(junk, KEY, now=1000.0, audience=PLANT)  # type: ignore[arg-type]


def test_a_token_without_a_key_id_or_with_an_unknown_one_is_refused():
    right_key = claims()
    with pytest.raises(InvalidToken, match="no key"):
        verify_token(jwt.encode(right_key, KEY, "HS256"), KEY, now=1000.0, audience=PLANT)
    with pytest.raises(InvalidToken, match="bad signature"):  # signed with KEY all the same
        verify_token(signed(right_key, kid="0000000000000000"), KEY, now=1000.0, audience=PLANT)
    for kid in ("", 7, None):
        with pytest.raises(InvalidToken, match=r"no key|malformed"):
            text = by_hand({"alg": "HS256", "kid": kid}, right_key)
            verify_token(text, KEY, now=1000.0, audience=PLANT)


@pytest.mark.parametrize(
    "claim", ["sub", "roles", "node", "sid", "iat", "exp", "auth_time", "aud", "iss"]
)
def test_every_claim_is_required(claim):
    with pytest.raises(InvalidToken, match=f"missing claim {claim}"):
        verify_token(signed(claims(**{claim: None})), KEY, now=1000.0, audience=PLANT)


@pytest.mark.parametrize(
    "bad",
    [
        {"roles": "admin"},
        {"roles": ["admin", 1]},
        {"sub": ""},
        {"sub": 5},
        {"exp": "never"},
        {"exp": True},
        {"exp": 10**400},
        {"iat": "1000"},
        {"iss": "someone else"},
    ],
)
def test_malformed_claims_are_refused(bad):
    with pytest.raises(InvalidToken):
        verify_token(signed(claims(**bad)), KEY, now=1000.0, audience=PLANT)


def test_a_rotated_previous_key_still_verifies_while_new_tokens_use_the_current_one():
    old = token(key=OLD_KEY)
    new = token(key=KEY)
    assert jwt.get_unverified_header(new)["kid"] == key_id(KEY) != key_id(OLD_KEY)
    for text in (old, new):
        assert verify_token(text, [KEY, OLD_KEY], now=1000.0, audience=PLANT) == WHO
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(old, [KEY], now=1000.0, audience=PLANT)  # the old key withdrawn


def test_tokens_need_a_long_key_an_audience_and_an_expiry():
    with pytest.raises(ValueError, match="plant key"):
        issue_token(WHO, b"short key", audience=PLANT, issued_at=1000.0)
    with pytest.raises(ValueError, match="audience"):
        issue_token(WHO, KEY, audience="", issued_at=1000.0)
    with pytest.raises(ValueError, match="expiry"):
        issue_token(Identity("bob", frozenset()), KEY, audience=PLANT, issued_at=1000.0)
    with pytest.raises(ValueError, match="expiry"):
        issue_token(WHO, KEY, audience=PLANT, issued_at=2000.0)
