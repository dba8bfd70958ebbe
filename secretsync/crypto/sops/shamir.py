"""Shamir secret sharing over GF(2^8) as sops (and Vault) do it, for key groups (spec §7).

The field uses the AES polynomial x^8+x^4+x^3+x+1 (0x11B). Each secret byte gets its
own random polynomial of degree ``threshold-1`` whose constant term is the byte;
share ``i`` holds the polynomial values at x = i+1 followed by one byte x (so a
32-byte data key gives 33-byte shares). ``combine`` interpolates at x = 0.
"""

from __future__ import annotations

import os

__all__ = ["split", "combine"]


def _tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        # multiply by the generator 3 in GF(2^8) mod 0x11B
        x ^= (x << 1) ^ (0x11B if x & 0x80 else 0)
        x &= 0xFF
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def _evaluate(coefficients: list[int], x: int) -> int:
    """Horner's rule; ``coefficients[0]`` is the constant term."""
    result = 0
    for c in reversed(coefficients):
        result = _mul(result, x) ^ c
    return result


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it."""
    if parts < threshold:
        raise ValueError("parts cannot be less than threshold")
    if parts > 255:
        raise ValueError("parts cannot exceed 255")
    if threshold < 2:
        raise ValueError("threshold must be at least 2")
    if not secret:
        raise ValueError("cannot split an empty secret")
    shares = [bytearray(len(secret) + 1) for _ in range(parts)]
    for i in range(parts):
        shares[i][-1] = i + 1
    for idx, byte in enumerate(secret):
        coefficients = [byte] + list(os.urandom(threshold - 1))
        for i in range(parts):
            shares[i][idx] = _evaluate(coefficients, i + 1)
    return [bytes(s) for s in shares]


def combine(shares: list[bytes]) -> bytes:
    """Recover the secret from shares (each: y-bytes then one x byte)."""
    if len(shares) < 2:
        raise ValueError("less than two parts cannot be used to reconstruct the secret")
    length = len(shares[0])
    if length < 2 or any(len(s) != length for s in shares):
        raise ValueError("all parts must be the same length and at least two bytes")
    xs = [s[-1] for s in shares]
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate part detected")
    if 0 in xs:
        raise ValueError("invalid part: x coordinate 0")
    # Lagrange basis values at x = 0 are the same for every byte position.
    basis = []
    for i, xi in enumerate(xs):
        b = 1
        for j, xj in enumerate(xs):
            if i != j:
                b = _mul(b, _div(xj, xi ^ xj))
        basis.append(b)
    out = bytearray(length - 1)
    for idx in range(length - 1):
        acc = 0
        for share, b in zip(shares, basis):
            acc ^= _mul(share[idx], b)
        out[idx] = acc
    return bytes(out)
