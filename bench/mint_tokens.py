#!/usr/bin/env python3
"""Mints access tokens for the benchmark's customers, exactly as the shop signs them (HS256,
iss=shop, aud=shop-api), so the load test needs no logins (which would benchmark argon2).

usage: mint_tokens.py SECRET USERS OUT   (users are bench-1 .. bench-USERS, ids md5('bench-N'))
"""
import base64, hashlib, hmac, json, sys, time, uuid


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    secret, users, out = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3]
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    now = int(time.time())
    with open(out, "w") as tokens:
        for n in range(1, users + 1):
            user_id = str(uuid.UUID(hashlib.md5(f"bench-{n}".encode()).hexdigest()))
            claims = {"sub": user_id, "role": "customer", "iss": "shop", "aud": "shop-api",
                      "iat": now, "exp": now + 3600}
            payload = b64(json.dumps(claims, separators=(",", ":")).encode())
            signature = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
            tokens.write(f"{header}.{payload}.{signature}\n")


if __name__ == "__main__":
    main()
