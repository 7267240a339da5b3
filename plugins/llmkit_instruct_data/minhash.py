"""MinHash signatures and banded LSH for near-duplicate instructions, made for this plugin.

Shingles are the character 5-grams of the casefolded normal form (character grams work for
Japanese and Chinese, which have no spaces, and for short chat prompts, which have few words).
Each shingle is hashed to 32 bits (FNV-1a over its UTF-32 code points, computed for all shingles
at once with numpy); permutation ``i`` maps a shingle hash ``h`` to the top 32 bits of
``a_i * h + b_i`` mod 2^64 (multiply-shift hashing, ``a_i`` odd), and the signature keeps each
permutation's minimum. Two texts agree on one permutation with probability close to the Jaccard
similarity of their shingle sets.

LSH cuts the signature into ``bands`` bands of ``rows`` rows; two texts are candidates when one
band agrees entirely, which happens with probability ``1 - (1 - J^rows)^bands``. ``lsh_shape``
picks the (bands, rows) that minimise false positives below the threshold plus false negatives
above it, integrated over J (the rule datasketch's MinHashLSH also uses, with equal weights).
The index keeps, per band, a 64-bit key of the band and the id of the first text that had it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: shingle width, in characters
SHINGLE = 5
#: shingles permuted at once: bounds the memory of one signature
CHUNK = 8192
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm, best for ``threshold`` (equal weights).

    Every shape is tried, not only the longest bands (rows = num_perm // bands): at 0.8 and 128
    permutations the best is 9 bands of 13 rows, leaving 11 permutations unused."""
    import numpy as np

    grid = np.linspace(0.0, 1.0, 1001)
    below, above = grid <= threshold, grid >= threshold
    best, best_error = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            candidate = 1.0 - (1.0 - grid**rows) ** bands
            error = _area(candidate[below], grid[below]) + _area(1.0 - candidate[above], grid[above])
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def _area(values: Any, grid: Any) -> float:
    """Trapezoid rule (numpy renamed its own between versions)."""
    if len(grid) < 2:
        return 0.0
    return float(((values[1:] + values[:-1]) * (grid[1:] - grid[:-1])).sum() / 2)


class MinHasher:
    """Signatures of ``num_perm`` permutations, the same for every run with the same seed."""

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.np = np
        self.a = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
        self.num_perm = num_perm

    def shingle_hashes(self, text: str) -> Any:
        """The distinct 32-bit hashes of the text's character 5-grams (the whole text if shorter)."""
        return self.np.unique(self.np.concatenate(list(self._window_hashes(text))))

    def signature(self, text: str) -> Any:
        """uint32 array of ``num_perm`` minima.

        The text is hashed and permuted ``CHUNK`` windows at a time, the minima carried over
        (a minimum over all shingles is the minimum of the chunks' minima), so one text costs
        about ``CHUNK * num_perm * 8`` bytes (8 MiB at 128 permutations) whatever its length.
        All shingles at once took about 1 KB a character: a 1.2M-character turn needed 1 GB."""
        np = self.np
        minima = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        with np.errstate(over="ignore"):  # the products wrap mod 2^64 on purpose
            for hashes in self._window_hashes(text):
                mixed = (np.unique(hashes)[:, None] * self.a[None, :] + self.b[None, :]) >> np.uint64(32)
                np.minimum(minima, mixed.min(axis=0), out=minima)
        return minima.astype(np.uint32)

    def _window_hashes(self, text: str) -> Iterator[Any]:
        """32-bit FNV-1a hashes of the text's 5-gram windows, at most ``CHUNK`` at a time.

        Consecutive pieces of the text overlap by ``SHINGLE - 1`` characters, so every window
        is hashed exactly once; a text shorter than a shingle is one window."""
        np = self.np
        width = min(SHINGLE, len(text))
        if width == 0:
            yield np.zeros(1, dtype=np.uint64)
            return
        for start in range(0, len(text) - width + 1, CHUNK):
            piece = text[start : start + CHUNK + width - 1]
            codes = np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
            count = len(codes) - width + 1
            hashes = np.full(count, _FNV_OFFSET, dtype=np.uint64)
            for offset in range(width):  # FNV-1a over the code points of each window, all windows at once
                hashes = ((hashes ^ codes[offset : offset + count]) * np.uint64(_FNV_PRIME)) & np.uint64(0xFFFFFFFF)
            yield hashes


class NearDuplicateIndex:
    """Banded LSH over MinHash signatures: the id of an earlier text that shares a band."""

    def __init__(self, threshold: float, num_perm: int = 128, seed: int = 1) -> None:
        self.hasher = MinHasher(num_perm, seed)
        self.bands, self.rows = lsh_shape(threshold, num_perm)
        self.buckets: dict[int, Any] = {}

    def band_keys(self, text: str) -> list[int]:
        """One 64-bit key per band (the band's index mixed in, so one dict serves all bands)."""
        np = self.hasher.np
        signature = self.hasher.signature(text)[: self.bands * self.rows].reshape(self.bands, self.rows)
        # FNV-1a, 64-bit, over each band's values and its index
        keys = np.full(self.bands, 0xCBF29CE484222325, dtype=np.uint64) ^ np.arange(self.bands, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for column in range(self.rows):
                keys = (keys ^ signature[:, column].astype(np.uint64)) * np.uint64(0x100000001B3)
        return keys.tolist()

    def find(self, keys: list[int]) -> Any:
        """The id of the first indexed text sharing a band with ``keys``, else None."""
        buckets = self.buckets
        for key in keys:
            if key in buckets:
                return buckets[key]
        return None

    def add(self, keys: list[int], ident: Any) -> None:
        for key in keys:
            self.buckets.setdefault(key, ident)
