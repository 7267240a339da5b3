"""Recorded-style model answers for the LLM stages' parsing tests."""

PROGRAM = '''def mean(values: list[float]) -> float:
    """Arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("values must not be empty")
    return sum(values) / len(values)


if __name__ == "__main__":
    print(mean([1.0, 2.0, 3.0]))
'''

WELL_FORMED = f"""Rating: 4/10

- Added type hints and a docstring.
- Raise on empty input.

```python
{PROGRAM}```
"""

NO_BLOCK = "Rating: 6/10\nThe program is fine as it is; I would rename a few variables.\n"

TWO_BLOCKS = f"""**Rating:** 7/10

The original:
```python
def m(v): return sum(v)/len(v)
```

Improved:
```python
{PROGRAM}```
"""

TRUNCATED = f"""Rating: 5/10

```python
{PROGRAM[:120]}"""

# the input quoted back in a closed block, then the rewrite cut off by the token limit
QUOTED_THEN_CUT = f"""Rating: 4/10

Your code:
```python
{PROGRAM}```

Improved:
```python
{PROGRAM[:120]}"""

REPETITIVE = "Rating: 3/10\n\n```python\n" + 'print("again and again")\n' * 40 + "```\n"

BROKEN = "Rating: 2/10\n\n```python\ndef broken(:\n    return 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9\n```\n"

SHORT = "Rating: 9/10\n\n```python\nprint(1)\n```\n"

UNRESOLVED = "Done.\n\n```python\ndef total(items: list[int]) -> int:\n    \"\"\"Sum with an undefined helper.\"\"\"\n    return helper(items) + OFFSET\n```\n"
