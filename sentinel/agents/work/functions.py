"""Small Python functions the catalogue's code tasks are about, with their tests and bugs.

Each entry is real code: the tests pass on ``source`` and fail on ``source`` with ``bug``
applied (``tests/agents/test_work.py`` checks both for every entry).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Function:
    """One function: its module source, a unittest body, and a one-line bug."""

    name: str
    summary: str
    source: str
    tests: str
    bug: tuple[str, str]
    """``(old, new)``: replacing ``old`` with ``new`` in ``source`` breaks the tests."""
    clunky: str = ""
    """A correct but long-winded version (the "before" of a refactoring task)."""


FUNCTIONS: tuple[Function, ...] = (
    Function(
        "slugify",
        "turn a title into a URL slug",
        "import re\n\n\ndef slugify(text: str) -> str:\n"
        "    words = re.findall(r'[a-z0-9]+', text.lower())\n"
        "    return '-'.join(words)\n",
        "    def test_words(self):\n"
        "        self.assertEqual(m.slugify('Hello, World!'), 'hello-world')\n\n"
        "    def test_empty(self):\n        self.assertEqual(m.slugify('  '), '')\n",
        ("'-'.join(words)", "'_'.join(words)"),
        "def slugify(text: str) -> str:\n    out = ''\n    word = ''\n"
        "    for ch in text.lower() + ' ':\n"
        "        if ch.isascii() and ch.isalnum():\n            word = word + ch\n"
        "        else:\n            if word != '':\n"
        "                if out != '':\n                    out = out + '-'\n"
        "                out = out + word\n            word = ''\n    return out\n",
    ),
    Function(
        "clamp",
        "clamp a number into a range",
        "def clamp(value: float, low: float, high: float) -> float:\n"
        "    if low > high:\n        raise ValueError('low > high')\n"
        "    return max(low, min(high, value))\n",
        "    def test_inside(self):\n        self.assertEqual(m.clamp(5, 0, 10), 5)\n\n"
        "    def test_edges(self):\n        self.assertEqual(m.clamp(-1, 0, 10), 0)\n"
        "        self.assertEqual(m.clamp(11, 0, 10), 10)\n\n"
        "    def test_bad_range(self):\n"
        "        with self.assertRaises(ValueError):\n            m.clamp(1, 2, 0)\n",
        ("max(low, min(high, value))", "min(low, max(high, value))"),
        "def clamp(value: float, low: float, high: float) -> float:\n"
        "    if low > high:\n        raise ValueError('low > high')\n"
        "    if value < low:\n        result = low\n    elif value > high:\n"
        "        result = high\n    else:\n        result = value\n    return result\n",
    ),
    Function(
        "median",
        "the median of a list of numbers",
        "def median(values: list[float]) -> float:\n    if not values:\n"
        "        raise ValueError('no values')\n    ordered = sorted(values)\n"
        "    mid = len(ordered) // 2\n    if len(ordered) % 2:\n        return ordered[mid]\n"
        "    return (ordered[mid - 1] + ordered[mid]) / 2\n",
        "    def test_odd(self):\n        self.assertEqual(m.median([3, 1, 2]), 2)\n\n"
        "    def test_even(self):\n        self.assertEqual(m.median([4, 1, 3, 2]), 2.5)\n\n"
        "    def test_empty(self):\n"
        "        with self.assertRaises(ValueError):\n            m.median([])\n",
        ("ordered = sorted(values)", "ordered = list(values)"),
    ),
    Function(
        "roman",
        "write an integer in Roman numerals",
        "PAIRS = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'),\n"
        "         (50, 'L'), (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]\n\n\n"
        "def roman(number: int) -> str:\n    out = []\n    for value, letters in PAIRS:\n"
        "        count, number = divmod(number, value)\n        out.append(letters * count)\n"
        "    return ''.join(out)\n",
        "    def test_small(self):\n        self.assertEqual(m.roman(4), 'IV')\n"
        "        self.assertEqual(m.roman(9), 'IX')\n\n"
        "    def test_year(self):\n        self.assertEqual(m.roman(2024), 'MMXXIV')\n",
        ("(4, 'IV'), ", ""),
    ),
    Function(
        "word_count",
        "count the words of a text, case-insensitively",
        "from collections import Counter\n\n\ndef word_count(text: str) -> dict[str, int]:\n"
        "    return dict(Counter(text.lower().split()))\n",
        "    def test_counts(self):\n"
        "        self.assertEqual(m.word_count('a B b'), {'a': 1, 'b': 2})\n\n"
        "    def test_empty(self):\n        self.assertEqual(m.word_count(''), {})\n",
        ("text.lower().split()", "text.split()"),
    ),
    Function(
        "chunk",
        "split a list into chunks of a given size",
        "def chunk(items: list[int], size: int) -> list[list[int]]:\n    if size < 1:\n"
        "        raise ValueError('size < 1')\n"
        "    return [items[i:i + size] for i in range(0, len(items), size)]\n",
        "    def test_even(self):\n"
        "        self.assertEqual(m.chunk([1, 2, 3, 4], 2), [[1, 2], [3, 4]])\n\n"
        "    def test_rest(self):\n"
        "        self.assertEqual(m.chunk([1, 2, 3], 2), [[1, 2], [3]])\n\n"
        "    def test_bad(self):\n"
        "        with self.assertRaises(ValueError):\n            m.chunk([1], 0)\n",
        ("range(0, len(items), size)", "range(0, len(items) - 1, size)"),
        "def chunk(items: list[int], size: int) -> list[list[int]]:\n    if size < 1:\n"
        "        raise ValueError('size < 1')\n    out = []\n    current = []\n"
        "    for item in items:\n        current.append(item)\n"
        "        if len(current) == size:\n            out.append(current)\n"
        "            current = []\n    if len(current) > 0:\n        out.append(current)\n"
        "    return out\n",
    ),
    Function(
        "is_palindrome",
        "tell whether a phrase reads the same backwards",
        "def is_palindrome(text: str) -> bool:\n"
        "    letters = [c.lower() for c in text if c.isalnum()]\n"
        "    return letters == letters[::-1]\n",
        "    def test_yes(self):\n"
        "        self.assertTrue(m.is_palindrome('A man, a plan, a canal: Panama'))\n\n"
        "    def test_no(self):\n        self.assertFalse(m.is_palindrome('office'))\n",
        ("c.lower() for c in text if c.isalnum()", "c for c in text"),
    ),
    Function(
        "parse_duration",
        "parse durations like '1h30m' into minutes",
        "import re\n\n\ndef parse_duration(text: str) -> int:\n"
        "    match = re.fullmatch(r'(?:(\\d+)h)?(?:(\\d+)m)?', text.strip())\n"
        "    if not match or not text.strip():\n"
        "        raise ValueError(f'not a duration: {text!r}')\n"
        "    hours, minutes = match.groups()\n"
        "    return int(hours or 0) * 60 + int(minutes or 0)\n",
        "    def test_both(self):\n        self.assertEqual(m.parse_duration('1h30m'), 90)\n\n"
        "    def test_minutes(self):\n        self.assertEqual(m.parse_duration('45m'), 45)\n\n"
        "    def test_bad(self):\n"
        "        with self.assertRaises(ValueError):\n            m.parse_duration('soon')\n",
        ("int(hours or 0) * 60", "int(hours or 0) * 100"),
    ),
    Function(
        "merge_ranges",
        "merge overlapping integer ranges",
        "def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:\n"
        "    merged: list[tuple[int, int]] = []\n    for start, end in sorted(ranges):\n"
        "        if merged and start <= merged[-1][1]:\n"
        "            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))\n"
        "        else:\n            merged.append((start, end))\n    return merged\n",
        "    def test_overlap(self):\n"
        "        self.assertEqual(m.merge_ranges([(5, 8), (1, 3), (2, 4)]), [(1, 4), (5, 8)])\n\n"
        "    def test_nested(self):\n"
        "        self.assertEqual(m.merge_ranges([(1, 10), (2, 3)]), [(1, 10)])\n",
        ("max(end, merged[-1][1])", "end"),
    ),
    Function(
        "caesar",
        "shift letters by a fixed amount (Caesar cipher)",
        "def caesar(text: str, shift: int) -> str:\n    out = []\n    for ch in text:\n"
        "        if ch.isascii() and ch.isalpha():\n"
        "            base = ord('a') if ch.islower() else ord('A')\n"
        "            out.append(chr((ord(ch) - base + shift) % 26 + base))\n"
        "        else:\n            out.append(ch)\n    return ''.join(out)\n",
        "    def test_wrap(self):\n        self.assertEqual(m.caesar('xyz', 3), 'abc')\n\n"
        "    def test_round_trip(self):\n"
        "        self.assertEqual(m.caesar(m.caesar('Hi, Ada!', 5), -5), 'Hi, Ada!')\n",
        ("% 26 + base", "+ base"),
    ),
    Function(
        "flatten",
        "flatten nested lists",
        "def flatten(items: list) -> list:\n    out = []\n    for item in items:\n"
        "        if isinstance(item, list):\n            out.extend(flatten(item))\n"
        "        else:\n            out.append(item)\n    return out\n",
        "    def test_nested(self):\n"
        "        self.assertEqual(m.flatten([1, [2, [3, [4]]], 5]), [1, 2, 3, 4, 5])\n\n"
        "    def test_flat(self):\n        self.assertEqual(m.flatten([]), [])\n",
        ("out.extend(flatten(item))", "out.extend(item)"),
    ),
    Function(
        "fizzbuzz",
        "the FizzBuzz sequence up to n",
        "def fizzbuzz(n: int) -> list[str]:\n    out = []\n    for i in range(1, n + 1):\n"
        "        word = ('Fizz' if i % 3 == 0 else '') + ('Buzz' if i % 5 == 0 else '')\n"
        "        out.append(word or str(i))\n    return out\n",
        "    def test_fifteen(self):\n        result = m.fizzbuzz(15)\n"
        "        self.assertEqual(result[2], 'Fizz')\n        self.assertEqual(result[4], 'Buzz')\n"
        "        self.assertEqual(result[14], 'FizzBuzz')\n"
        "        self.assertEqual(len(result), 15)\n",
        ("range(1, n + 1)", "range(1, n)"),
    ),
    Function(
        "initials",
        "the initials of a person's name",
        "def initials(name: str) -> str:\n"
        "    return ''.join(part[0].upper() + '.' for part in name.split())\n",
        "    def test_two(self):\n        self.assertEqual(m.initials('ada lovelace'), 'A.L.')\n\n"
        "    def test_spaces(self):\n"
        "        self.assertEqual(m.initials('  grace  hopper '), 'G.H.')\n",
        ("name.split()", "name.split(' ')"),
    ),
    Function(
        "percent_change",
        "the percent change between two values, rounded to one decimal",
        "def percent_change(old: float, new: float) -> float:\n    if old == 0:\n"
        "        raise ZeroDivisionError('old is 0')\n"
        "    return round((new - old) / old * 100, 1)\n",
        "    def test_up(self):\n        self.assertEqual(m.percent_change(80, 100), 25.0)\n\n"
        "    def test_down(self):\n        self.assertEqual(m.percent_change(200, 150), -25.0)\n\n"
        "    def test_zero(self):\n"
        "        with self.assertRaises(ZeroDivisionError):\n            m.percent_change(0, 1)\n",
        ("(new - old) / old", "(new - old) / new"),
    ),
    Function(
        "dedupe",
        "remove duplicates, keeping the first of each",
        "def dedupe(items: list[str]) -> list[str]:\n    seen: set[str] = set()\n    out = []\n"
        "    for item in items:\n        if item not in seen:\n            seen.add(item)\n"
        "            out.append(item)\n    return out\n",
        "    def test_order(self):\n"
        "        self.assertEqual(m.dedupe(['b', 'a', 'b', 'c', 'a']), ['b', 'a', 'c'])\n",
        ("            seen.add(item)\n", ""),
        "def dedupe(items: list[str]) -> list[str]:\n    out = []\n"
        "    for i in range(len(items)):\n"
        "        found = False\n        for j in range(len(out)):\n"
        "            if out[j] == items[i]:\n                found = True\n"
        "        if found == False:\n            out.append(items[i])\n    return out\n",
    ),
    Function(
        "business_days",
        "count Monday-to-Friday days between two dates",
        "from datetime import date, timedelta\n\n\n"
        "def business_days(start: date, end: date) -> int:\n    days = 0\n    day = start\n"
        "    while day < end:\n        if day.weekday() < 5:\n            days += 1\n"
        "        day += timedelta(days=1)\n    return days\n",
        "    def test_week(self):\n        from datetime import date\n"
        "        self.assertEqual(m.business_days(date(2026, 12, 7), date(2026, 12, 14)), 5)\n\n"
        "    def test_weekend(self):\n        from datetime import date\n"
        "        self.assertEqual(m.business_days(date(2026, 12, 5), date(2026, 12, 7)), 0)\n",
        ("day.weekday() < 5", "day.weekday() < 6"),
    ),
)
