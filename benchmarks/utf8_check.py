"""Speed of `utf8-eval check` against Python's own C decoder and a pure-Python validator.

All run in this process, interleaved, on the same mostly valid multilingual text (records of about
2 KB, one in a hundred with an invalid byte planted): the checker (`check_bytes`), CPython's C
decoder (`bytes.decode("utf-8", "replace")`, the speed bound: the checker decodes each record
once and only the failing ones again) and a straightforward byte-by-byte validator, which must
agree with the checker on every record. Prints the medians' MB/s and the ratios; the targets are
>= 0.8x the C decoder, and >= 50 MB/s and >= 20x the byte-by-byte validator.

    python benchmarks/utf8_check.py [--megabytes 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from llmkit_utf8.validate import check_bytes  # noqa: E402

SAMPLES = [
    "The quick brown fox jumps over the lazy dog. ",
    "Größenmaßstäbe für Übersetzungen, façade, naïve café. ",
    "Съешь же ещё этих мягких французских булок. ",
    "日本語の文章を生成するモデルは、珍しい漢字で間違えることがある。",
    "中文字符的编码通常需要三个字节。",
    "한국어 문장도 세 바이트 문자로 이루어져 있다. ",
    "Emoji 🙂🚀🧪 need four bytes each. ",
    "العربية تكتب من اليمين إلى اليسار. ",
]


def naive_valid(data: bytes) -> bool:
    """The baseline: Unicode Table 3-7 checked one byte at a time."""
    i, n = 0, len(data)
    while i < n:
        lead = data[i]
        if lead < 0x80:
            i += 1
            continue
        if 0xC2 <= lead <= 0xDF:
            need, low, high = 1, 0x80, 0xBF
        elif 0xE0 <= lead <= 0xEF:
            need = 2
            low, high = (0xA0, 0xBF) if lead == 0xE0 else (0x80, 0x9F) if lead == 0xED else (0x80, 0xBF)
        elif 0xF0 <= lead <= 0xF4:
            need = 3
            low, high = (0x90, 0xBF) if lead == 0xF0 else (0x80, 0x8F) if lead == 0xF4 else (0x80, 0xBF)
        else:
            return False
        if i + need >= n:  # the input ends inside the character
            return False
        if not low <= data[i + 1] <= high:
            return False
        for j in range(i + 2, i + need + 1):
            if not 0x80 <= data[j] <= 0xBF:
                return False
        i += need + 1
    return True


def make_records(megabytes: float, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    records, total = [], 0
    while total < megabytes * 1e6:
        text = "".join(rng.choice(SAMPLES) for _ in range(24)).encode("utf-8")
        if rng.random() < 0.01:
            cut = rng.randrange(len(text))
            text = text[:cut] + bytes([rng.choice([0x80, 0xC0, 0xFF, 0xE3])]) + text[cut:]
        records.append(text)
        total += len(text)
    return records


def c_decoder(data: bytes) -> None:
    """The bound: the C decoder alone. Its text is dropped, as check_bytes drops its own (keeping
    8 MB of str objects would time the allocator, not the decoder)."""
    data.decode("utf-8", "replace")


def timed(func: Callable[[bytes], Any], records: list[bytes]) -> tuple[float, list[Any]]:
    """Seconds for one call of ``func`` per record (each side pays one Python call), and the results."""
    start = time.perf_counter()
    results = [func(r) for r in records]
    return time.perf_counter() - start, results


def step_rate(records: list[bytes], repeats: int) -> float:
    """The whole step (hex field in, `utf8` dict out), for scale; not part of the target."""
    from llmkit_utf8.check import CheckStep

    step = CheckStep("bytes", "hex")
    rows = [{"bytes": r.hex()} for r in records]
    size = sum(len(r) for r in records) / 1e6
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        step.process(rows)
        rates.append(size / (time.perf_counter() - start))
    return statistics.median(rates)


def ratio(fast: list[float], slow: list[float]) -> float:
    return statistics.median(f / s for f, s in zip(fast, slow))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    records = make_records(args.megabytes)
    size = sum(len(r) for r in records) / 1e6
    rates: dict[str, list[float]] = {"check": [], "decoder": [], "naive": []}
    for _ in range(args.repeats):
        check_seconds, checks = timed(check_bytes, records)
        decoder_seconds, _ = timed(c_decoder, records)
        naive_seconds, naive = timed(naive_valid, records)
        valid = [c.valid for c in checks]
        if valid != naive:
            raise SystemExit("check and the byte-by-byte validator disagree")
        for name, seconds in (("check", check_seconds), ("decoder", decoder_seconds), ("naive", naive_seconds)):
            rates[name].append(size / seconds)
    check_mb, decoder_mb, naive_mb = (statistics.median(rates[name]) for name in ("check", "decoder", "naive"))
    step_mb = step_rate(records, args.repeats)
    invalid = valid.count(False)
    print(f"data: {size:.1f} MB in {len(records)} records, {invalid} invalid; medians of {args.repeats} runs")
    print(f"check_bytes:       {check_mb:10.1f} MB/s")
    print(f"C decoder:         {decoder_mb:10.1f} MB/s  (bytes.decode('utf-8', 'replace'))")
    print(f"byte-by-byte:      {naive_mb:10.1f} MB/s")
    print(f"CheckStep on hex:  {step_mb:10.1f} MB/s of bytes (hex decoding and output dicts included)")
    # ratios: the median of each run's own ratio, so a burst of load hits both sides of a pair
    print(f"vs C decoder:      {ratio(rates['check'], rates['decoder']):10.2f}x  (target: >= 0.8x)")
    print(f"vs byte-by-byte:   {ratio(rates['check'], rates['naive']):10.1f}x  (target: >= 50 MB/s and >= 20x)")


if __name__ == "__main__":
    main()
