#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target (fuzz/corpus/<target>/), from
the shapes the test fakes in tests/support serve. Run once; the corpus is
committed, and fuzzing adds to it."""
import json, os, hashlib

root = os.path.join(os.path.dirname(__file__), "corpus")

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

for h in ["@alice@example.social", "alice@example.social", "example.social", "https://example.social/@alice",
          "https://example.social", "acct:alice@example.social", "ALICE@Example.Social", "alice@bücher.example",
          "alice@xn--bcher-kva.example", "alice@example.social:8443", "alice@127.0.0.1", "alice@[::1]",
          "http://localhost:3000", "alice@@example.social", "@alice", "alice@example.social.", "12.20.1..",
          "https://user:pw@example.social", "a" * 70 + "@example.social", "alice@" + "a." * 130 + "social"]:
    put("handle", h)

jrd = {"subject": "acct:alice@example.social", "aliases": ["https://social.example/@alice"],
       "links": [{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://social.example/@alice"},
                 {"rel": "self", "type": "application/activity+json", "href": "https://social.example/users/alice"}]}
ld = dict(jrd, links=[{"rel": "self", "type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                       "href": "https://social.example/users/alice"}])
other = dict(jrd, links=[{"rel": "self", "type": "application/activity+json", "href": "https://evil.example/users/alice"}])
for doc in [jrd, ld, other, {"links": []}, {}]:
    put("discovery_documents", b"\x00" + json.dumps(doc).encode())
xrd = '<?xml version="1.0" encoding="UTF-8"?>\n<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n  <Link rel="lrdd" template="https://social.example/.well-known/webfinger?resource={uri}"/>\n</XRD>'
put("discovery_documents", b"\x01" + xrd.encode())
put("discovery_documents", b"\x01<XRD><Link rel='lrdd' type='application/jrd+json' template='https://x.example/wf?r={uri}&amp;a=1'/></XRD>")
links = {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": "https://social.example/nodeinfo/2.0"},
                   {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": "https://social.example/nodeinfo/2.1"}]}
put("discovery_documents", b"\x02" + json.dumps(links).encode())
for sw in [("mastodon", "4.4.1"), ("gotosocial", "0.17.0"), ("akkoma", "3.13.2"), ("pixelfed", "0.12.4"),
           ("misskey", "2024.10.1"), ("friendica", "2024.08")]:
    put("discovery_documents", b"\x03" + json.dumps({"version": "2.0", "software": {"name": sw[0], "version": sw[1]},
                                                    "protocols": ["activitypub"], "openRegistrations": True}).encode())
meta = {"issuer": "https://social.example/", "authorization_endpoint": "https://social.example/oauth/authorize",
        "token_endpoint": "https://social.example/oauth/token", "revocation_endpoint": "https://social.example/oauth/revoke",
        "app_registration_endpoint": "https://social.example/api/v1/apps",
        "scopes_supported": ["read", "profile", "read:accounts"], "code_challenge_methods_supported": ["S256"]}
put("discovery_documents", b"\x04" + json.dumps(meta).encode())
put("discovery_documents", b"\x04" + json.dumps(dict(meta, token_endpoint="https://evil.example/token")).encode())

acct = {"id": "109", "username": "alice", "acct": "alice", "display_name": "Alice :blobcat:", "locked": False,
        "bot": False, "created_at": "2023-01-01T00:00:00.000Z", "url": "https://social.example/@alice",
        "uri": "https://social.example/users/alice", "avatar": "https://social.example/avatars/a.png",
        "emojis": [], "fields": [], "source": {"privacy": "public"}}
akkoma = {k: v for k, v in acct.items() if k != "uri"}
akkoma.update(fqn="alice@social.example", pleroma={"ap_id": "https://social.example/users/alice", "is_confirmed": True})
pixelfed = {k: v for k, v in acct.items() if k != "uri"}
pixelfed.update(local=True, url="https://social.example/alice")
for a in [acct, dict(acct, suspended=True), dict(acct, limited=True), akkoma, pixelfed, dict(acct, uri=""),
          {"id": "1", "username": "a", "acct": "a"}]:
    put("account_json", b"\x00" + json.dumps(a).encode())
for u in [{"id": "9abc", "username": "alice", "host": None, "name": "Alice :blobcat:", "avatarUrl": "https://social.example/a.webp",
           "isBot": False, "isLocked": False, "createdAt": "2023-10-01T00:00:00.000Z"},
          {"id": "9abd", "username": "bob", "host": "remote.example", "uri": "https://remote.example/users/bob"},
          {"id": "x/../../admin", "username": "eve"}, {"id": "1", "username": "a", "isSuspended": True}]:
    put("account_json", b"\x01" + json.dumps(u).encode())

base = "client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&state=s"
for extra in ["&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
              "&response_type=code%20id_token&nonce=n&response_mode=form_post",
              "&response_type=code%20token&nonce=n", "&response_type=id_token&nonce=n&prompt=none&max_age=0",
              "&response_type=code&claims=%7B%22id_token%22%3A%7B%22sub%22%3A%7B%22value%22%3A%22x%22%7D%2C%22acr%22%3A%7B%22essential%22%3Atrue%7D%7D%7D",
              "&response_type=code&prompt=login%20consent&ui_locales=ja&login_hint=alice%40example.social",
              "&response_type=code&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc",
              "&response_type=code&response_type=token", "&response_type=code&acr_values=urn%3Afedi-oidc%3Aacr%3Adelegated"]:
    put("authorization_request", base + extra)
put("authorization_request", "client_id=rp&redirect_uri=http%3A%2F%2F127.0.0.1%3A8201%2Fcb&response_type=code&scope=openid")

reg = {"redirect_uris": ["https://rp.example/cb"], "client_name": "RP", "token_endpoint_auth_method": "client_secret_basic",
       "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}
for r in [reg, dict(reg, token_endpoint_auth_method="none"), dict(reg, subject_type="pairwise"),
          dict(reg, response_types=["code id_token"], grant_types=["authorization_code", "implicit"]),
          dict(reg, token_endpoint_auth_method="private_key_jwt", jwks={"keys": []}),
          dict(reg, backchannel_logout_uri="https://rp.example/bcl", post_logout_redirect_uris=["https://rp.example/"]),
          dict(reg, redirect_uris=["http://127.0.0.1/cb"], application_type="native"), {}]:
    put("registration_request", json.dumps(r))

import base64
def b64(o):
    return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
claims = {"iss": "rp", "sub": "rp", "aud": "https://issuer.example", "exp": 9999999999, "jti": "j1"}
for alg in ["HS256", "RS256", "none", "ES256"]:
    put("client_assertion", b64({"alg": alg, "typ": "JWT"}) + "." + b64(claims) + ".c2ln")
put("client_assertion", b64({"alg": "HS256"}) + "." + b64(dict(claims, aud=["https://issuer.example", "x"])) + ".c2ln")
hint = {"iss": "https://issuer.example", "sub": "alice", "aud": "rp", "exp": 1, "iat": 0}
put("id_token_hint", b64({"alg": "RS256", "kid": "k"}) + "." + b64(hint) + ".c2ln")
put("id_token_hint", b64({"alg": "none"}) + "." + b64(hint) + ".")
put("id_token_hint", b64({"alg": "RS256", "typ": "logout+jwt"}) + "." + b64(dict(hint, events={})) + ".c2ln")
