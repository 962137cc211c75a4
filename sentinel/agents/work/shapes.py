# ruff: noqa: S608 - the SQL here is text of the agents' files, run on their seeded data
"""The catalogue's task shapes: what a ticket asks and what a finished ticket looks like.

A shape gives, for a seed, the files the ticket starts from (``setup``: committed by the
desk before the agent is asked) and the files a good answer writes (``solution``: the
change and its tests). The offline provider writes the solution; the desk's CI runs the
tests. Shapes fit desks (``desks``): a designer gets design tokens, not a SQL report.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sentinel.agents.work.functions import FUNCTIONS, Function

Files = dict[str, str]


@dataclass(frozen=True)
class Shape:
    """One kind of task: ``<kind>:<subject>``, e.g. ``fix:median``."""

    id: str
    desks: frozenset[str]
    title: str
    solution: Callable[[int], Files]
    setup: Callable[[int], Files] = field(default=lambda seed: {})

    @property
    def kind(self) -> str:
        """The part before the colon: implement, fix, test, refactor, docs, review, ..."""
        return self.id.split(":", 1)[0]


def _test_file(module: str, body: str) -> str:
    return (
        f"import unittest\n\nimport {module} as m\n\n\n"
        f"class Test{module.title().replace('_', '')}(unittest.TestCase):\n{body}"
    )


def _module(fn: Function) -> str:
    return f'"""{fn.summary.capitalize()}."""\n\n{fn.source}'


def _buggy(fn: Function) -> str:
    old, new = fn.bug
    return _module(fn).replace(old, new, 1)


def _code_shapes(fn: Function) -> list[Shape]:
    mod, test = f"{fn.name}.py", f"test_{fn.name}.py"
    tests = _test_file(fn.name, fn.tests)
    dev, qa = frozenset({"dev"}), frozenset({"qa"})
    readme = (
        f"# {fn.name}\n\n{fn.summary.capitalize()}.\n\n## Usage\n\n"
        f"Import it with `from {fn.name} import {fn.name}`; the tests in `{test}` show "
        "what it returns.\n"
    )
    doc_test = (
        "import pathlib\nimport unittest\n\n\nclass TestReadme(unittest.TestCase):\n"
        "    def test_names_the_function(self):\n"
        "        text = (pathlib.Path(__file__).parent / 'README.md').read_text()\n"
        f"        self.assertIn('# {fn.name}', text)\n"
        "        self.assertIn('## Usage', text)\n"
        f"        self.assertIn('import {fn.name}', text)\n"
    )
    old, new = fn.bug
    review = (
        f"# Review of fix.patch ({fn.name})\n\nVerdict: request changes\n\n"
        f"The patch replaces `{old.strip()}` with `{new.strip() or '(nothing)'}`; "
        f"that breaks `{fn.name}` ({fn.summary}). Keep the original line.\n"
    )
    review_test = (
        "import pathlib\nimport unittest\n\n\nclass TestReview(unittest.TestCase):\n"
        "    def test_verdict(self):\n"
        "        text = (pathlib.Path(__file__).parent / 'REVIEW.md').read_text()\n"
        "        self.assertIn('Verdict: request changes', text)\n"
        f"        self.assertIn({old.strip()!r}, text)\n"
    )
    patch = f"--- a/{mod}\n+++ b/{mod}\n-{old.strip()}\n+{new.strip()}\n"
    shapes = [
        Shape(
            f"implement:{fn.name}",
            dev,
            f"Implement {fn.name}: {fn.summary}, with unit tests",
            lambda seed: {mod: _module(fn), test: tests},
        ),
        Shape(
            f"fix:{fn.name}",
            dev | qa,
            f"Fix the failing test of {fn.name} ({fn.summary})",
            lambda seed: {mod: _module(fn)},
            lambda seed: {mod: _buggy(fn), test: tests},
        ),
        Shape(
            f"test:{fn.name}",
            qa,
            f"Write unit tests for {fn.name} ({fn.summary})",
            lambda seed: {test: tests},
            lambda seed: {mod: _module(fn)},
        ),
        Shape(
            f"docs:{fn.name}",
            dev | qa,
            f"Write the README of {fn.name}, checked by a test",
            lambda seed: {"README.md": readme, "test_readme.py": doc_test},
            lambda seed: {mod: _module(fn), test: tests},
        ),
        Shape(
            f"review:{fn.name}",
            dev | qa,
            f"Review fix.patch to {fn.name} and write REVIEW.md with a verdict",
            lambda seed: {"REVIEW.md": review, "test_review.py": review_test},
            lambda seed: {mod: _module(fn), "fix.patch": patch},
        ),
    ]
    if fn.clunky:
        shapes.append(
            Shape(
                f"refactor:{fn.name}",
                dev,
                f"Refactor {fn.name} ({fn.summary}) without changing what it returns",
                lambda seed: {mod: _module(fn)},
                lambda seed: {mod: f'"""{fn.summary.capitalize()}."""\n\n{fn.clunky}', test: tests},
            )
        )
    return shapes


def _rows(
    seed: int, count: int, names: tuple[str, ...], low: int, high: int
) -> list[tuple[str, int]]:
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not security
    return [(rng.choice(names), rng.randint(low, high)) for _ in range(count)]


_PEOPLE = ("ada", "grace", "linus", "margaret", "ken", "barbara")
_CUSTOMERS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark")
_ROOMS = ("g-kitchen", "f1-meeting-a", "f1-meeting-b", "g-lounge")
_ITEMS = ("paper", "toner", "coffee", "milk", "batteries", "pens")


def _sql_shape(
    subject: str, desks: set[str], title: str, table: str, names: tuple[str, ...], query: str
) -> Shape:
    """A SQL report: the data is seeded; the answer is ``report.sql`` and a test of it.

    Every SQL shape groups one table ``(name TEXT, amount INTEGER)`` by name; the test
    checks the query against the same sums computed in Python.
    """

    def setup(seed: int) -> Files:
        rows = _rows(seed, 24, names, 1, 90)
        values = ",\n".join(f"  ('{n}', {a})" for n, a in rows)
        return {
            "data.sql": f"CREATE TABLE {table} (name TEXT NOT NULL, amount INTEGER NOT NULL);\n"
            f"INSERT INTO {table} VALUES\n{values};\n"
        }

    test = (
        "import pathlib\nimport sqlite3\nimport unittest\n\n"
        "HERE = pathlib.Path(__file__).parent\n\n\n"
        "class TestReport(unittest.TestCase):\n    def test_report(self):\n"
        "        db = sqlite3.connect(':memory:')\n"
        "        db.executescript((HERE / 'data.sql').read_text())\n"
        "        got = db.execute((HERE / 'report.sql').read_text()).fetchall()\n"
        "        sums = {}\n"
        f"        for name, amount in db.execute('SELECT name, amount FROM {table}'):\n"
        "            sums[name] = sums.get(name, 0) + amount\n"
        f"        want = {query.split('|')[1]}\n"
        "        self.assertEqual(got, want)\n"
    )
    sql = query.split("|", maxsplit=1)[0]
    return Shape(
        f"sql:{subject}",
        frozenset(desks),
        title,
        lambda seed: {"report.sql": sql + "\n", "test_report.py": test},
        setup,
    )


_TOTALS = "sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))"
SQL_SHAPES = (
    _sql_shape(
        "top-customers",
        {"sales", "exec"},
        "SQL: the three customers with the most revenue",
        "orders",
        _CUSTOMERS,
        "SELECT name, SUM(amount) AS total FROM orders GROUP BY name "
        f"ORDER BY total DESC, name LIMIT 3|{_TOTALS}[:3]",
    ),
    _sql_shape(
        "revenue-by-customer",
        {"sales", "exec", "product"},
        "SQL: revenue per customer, largest first",
        "orders",
        _CUSTOMERS,
        "SELECT name, SUM(amount) AS total FROM orders GROUP BY name "
        f"ORDER BY total DESC, name|{_TOTALS}",
    ),
    _sql_shape(
        "low-stock",
        {"ops"},
        "SQL: supplies with fewer than 100 units in stock",
        "stock",
        _ITEMS,
        "SELECT name, SUM(amount) AS units FROM stock GROUP BY name HAVING units < 100 "
        "ORDER BY name|sorted((k, v) for k, v in sums.items() if v < 100)",
    ),
    _sql_shape(
        "open-tickets",
        {"it", "devops"},
        "SQL: open ticket hours per assignee",
        "tickets",
        _PEOPLE,
        "SELECT name, SUM(amount) FROM tickets GROUP BY name ORDER BY name|sorted(sums.items())",
    ),
    _sql_shape(
        "room-bookings",
        {"ops"},
        "SQL: booked minutes per meeting room",
        "bookings",
        _ROOMS,
        "SELECT name, SUM(amount) FROM bookings GROUP BY name ORDER BY name|sorted(sums.items())",
    ),
    _sql_shape(
        "busiest-assignee",
        {"it", "devops", "qa"},
        "SQL: the assignee with the most ticket hours",
        "tickets",
        _PEOPLE,
        f"SELECT name, SUM(amount) AS total FROM tickets GROUP BY name "
        f"ORDER BY total DESC, name LIMIT 1|{_TOTALS}[:1]",
    ),
)


def _data_shape(
    subject: str, desks: set[str], title: str, column: str, names: tuple[str, ...]
) -> Shape:
    """A data script: sum a seeded CSV's ``amount`` by ``column``, print ``name,total`` lines."""

    def setup(seed: int) -> Files:
        rows = _rows(seed, 30, names, 1, 500)
        return {"data.csv": f"{column},amount\n" + "".join(f"{n},{a}\n" for n, a in rows)}

    script = (
        '"""Sum data.csv by ' + column + '."""\n\nimport csv\nimport pathlib\n\n\n'
        "def totals(path):\n    sums = {}\n    with open(path, newline='') as f:\n"
        "        for row in csv.DictReader(f):\n"
        f"            sums[row['{column}']] = sums.get(row['{column}'], 0) + int(row['amount'])\n"
        "    return dict(sorted(sums.items()))\n\n\nif __name__ == '__main__':\n"
        "    for key, value in totals(pathlib.Path(__file__).parent / 'data.csv').items():\n"
        "        print(f'{key},{value}')\n"
    )
    test = (
        "import pathlib\nimport subprocess\nimport sys\nimport unittest\n\n"
        "import summarize\n\nHERE = pathlib.Path(__file__).parent\n\n\n"
        "class TestSummarize(unittest.TestCase):\n    def test_totals_add_up(self):\n"
        "        lines = (HERE / 'data.csv').read_text().splitlines()[1:]\n"
        "        total = sum(int(line.split(',')[1]) for line in lines)\n"
        "        self.assertEqual(sum(summarize.totals(HERE / 'data.csv').values()), total)\n\n"
        "    def test_prints_csv(self):\n"
        "        out = subprocess.run([sys.executable, str(HERE / 'summarize.py')],\n"
        "                             capture_output=True, text=True, check=True).stdout\n"
        "        want = len(summarize.totals(HERE / 'data.csv'))\n"
        "        self.assertEqual(len(out.splitlines()), want)\n"
    )
    return Shape(
        f"data:{subject}",
        frozenset(desks),
        title,
        lambda seed: {"summarize.py": script, "test_summarize.py": test},
        setup,
    )


DATA_SHAPES = (
    _data_shape(
        "pipeline-by-stage",
        {"sales"},
        "Data script: pipeline value per stage",
        "stage",
        ("lead", "qualified", "proposal", "won"),
    ),
    _data_shape(
        "feature-usage",
        {"product"},
        "Data script: sessions per feature",
        "feature",
        ("search", "export", "share", "comments"),
    ),
    _data_shape(
        "expenses",
        {"ops", "exec"},
        "Data script: expenses per category",
        "category",
        ("travel", "catering", "hardware", "licences"),
    ),
    _data_shape(
        "survey-scores",
        {"people", "product"},
        "Data script: survey points per team",
        "team",
        ("engineering", "design", "sales", "operations"),
    ),
    _data_shape(
        "campaign-clicks",
        {"marketing"},
        "Data script: clicks per campaign",
        "campaign",
        ("spring", "webinar", "newsletter", "launch"),
    ),
)


def _shell_shape(subject: str, desks: set[str], title: str, script: str, check: str) -> Shape:
    """A POSIX shell script and a Python test that runs it in a temporary directory."""
    test = (
        "import pathlib\nimport subprocess\nimport tempfile\nimport unittest\n\n"
        "HERE = pathlib.Path(__file__).parent\n\n\n"
        "class TestScript(unittest.TestCase):\n    def test_script(self):\n"
        "        with tempfile.TemporaryDirectory() as tmp:\n            d = pathlib.Path(tmp)\n"
        "            (d / 'a.txt').write_text('one\\ntwo\\n')\n"
        "            (d / 'b.txt').write_text('ERROR x\\nok\\nERROR y\\n')\n"
        "            (d / 'c.log').write_text('ERROR z\\n')\n"
        f"            out = subprocess.run(['sh', str(HERE / '{subject}.sh'), tmp],\n"
        "                                 capture_output=True, text=True, check=True).stdout\n"
        f"{check}"
    )
    return Shape(
        f"shell:{subject}",
        frozenset(desks),
        title,
        lambda seed: {
            f"{subject}.sh": "#!/bin/sh\nset -eu\n" + script,
            f"test_{subject.replace('-', '_')}.py": test,
        },
    )


SHELL_SHAPES = (
    _shell_shape(
        "count-lines",
        {"it", "devops", "ops"},
        "Shell: count the lines of the .txt files",
        'cat "$1"/*.txt | wc -l | tr -d " "\n',
        "            self.assertEqual(out.strip(), '5')\n",
    ),
    _shell_shape(
        "error-count",
        {"it", "devops"},
        "Shell: count ERROR lines across a folder",
        'cat "$1"/* | grep -c "^ERROR" || true\n',
        "            self.assertEqual(out.strip(), '3')\n",
    ),
    _shell_shape(
        "by-extension",
        {"it", "ops"},
        "Shell: files per extension, sorted",
        'for f in "$1"/*; do echo "${f##*.}"; done | sort | uniq -c | awk \'{print $2, $1}\'\n',
        "            self.assertEqual(out.split('\\n')[:2], ['log 1', 'txt 2'])\n",
    ),
    _shell_shape(
        "manifest",
        {"devops", "it"},
        "Shell: a sha256 manifest of a folder",
        'cd "$1" && sha256sum -- * | sort -k2\n',
        "            self.assertEqual(len(out.splitlines()), 3)\n"
        "            self.assertTrue(out.splitlines()[0].endswith('a.txt'))\n",
    ),
    _shell_shape(
        "largest-file",
        {"it", "devops"},
        "Shell: name the largest file of a folder",
        'ls -S "$1" | head -n 1\n',
        "            self.assertEqual(out.strip(), 'b.txt')\n",
    ),
    _shell_shape(
        "word-total",
        {"ops", "marketing"},
        "Shell: total words of a folder's files",
        'cat "$1"/* | wc -w | tr -d " "\n',
        "            self.assertEqual(out.strip(), '9')\n",
    ),
)


def _doc_shape(
    subject: str, desks: set[str], title: str, name: str, text: str, needles: tuple[str, ...]
) -> Shape:
    """A document checked by a test: it must contain what the ticket asks for."""
    asserts = "".join(f"        self.assertIn({n!r}, text)\n" for n in needles)
    test = (
        "import pathlib\nimport unittest\n\n\nclass TestDoc(unittest.TestCase):\n"
        "    def test_sections(self):\n"
        f"        text = (pathlib.Path(__file__).parent / {name!r}).read_text()\n{asserts}"
    )
    return Shape(
        f"doc:{subject}",
        frozenset(desks),
        title,
        lambda seed: {name: text, f"test_{subject.replace('-', '_')}.py": test},
    )


DOC_SHAPES = (
    _doc_shape(
        "style-guide",
        {"design"},
        "Write the style guide's colour and type sections",
        "STYLE.md",
        "# Style guide\n\n## Colour\n\nPrimary #1a73e8 on white.\n\n"
        "## Type\n\nInter 16/24 for body text.\n",
        ("## Colour", "## Type", "#1a73e8"),
    ),
    _doc_shape(
        "release-notes",
        {"product"},
        "Write the release notes of this sprint",
        "RELEASE.md",
        "# Release notes\n\n## Added\n\n- Export to CSV\n\n## Fixed\n\n- Search keeps the filter\n",
        ("## Added", "## Fixed"),
    ),
    _doc_shape(
        "spec",
        {"product"},
        "Write a feature spec with acceptance criteria",
        "SPEC.md",
        "# Spec: shared views\n\n## Acceptance criteria\n\n"
        "- Given a saved view, when I share it, then a teammate opens it.\n",
        ("## Acceptance criteria", "Given", "then"),
    ),
    _doc_shape(
        "one-pager",
        {"sales", "marketing"},
        "Write the product one-pager",
        "ONE_PAGER.md",
        "# Sentinel office\n\n## Problem\n\nAgents act unchecked.\n\n"
        "## Offer\n\nGoverned agents, audited.\n\n## Contact\n\nsales@example.org\n",
        ("## Problem", "## Offer", "## Contact"),
    ),
    _doc_shape(
        "runbook",
        {"it", "devops"},
        "Write the runbook for a full disk",
        "RUNBOOK.md",
        "# Runbook: disk full\n\n1. Check `df -h`.\n2. Find the largest "
        "files.\n3. Rotate the logs.\n",
        ("1. ", "2. ", "3. ", "df -h"),
    ),
    _doc_shape(
        "onboarding",
        {"ops", "people"},
        "Write the onboarding checklist",
        "ONBOARDING.md",
        "# Onboarding\n\n- [ ] Desk assigned\n- [ ] Laptop issued\n"
        "- [ ] Badge printed\n- [ ] Buddy named\n",
        ("- [ ] Desk", "- [ ] Laptop"),
    ),
    _doc_shape(
        "meeting-minutes",
        {"exec", "people", "ops"},
        "Write the minutes of the weekly",
        "MINUTES.md",
        "# Minutes\n\n## Attendees\n\nThe team.\n\n## Decisions\n\n"
        "- Ship on Friday.\n\n## Actions\n\n- [ ] Book the room\n",
        ("## Attendees", "## Decisions", "## Actions"),
    ),
    _doc_shape(
        "campaign-brief",
        {"marketing"},
        "Write the campaign brief",
        "BRIEF.md",
        "# Campaign brief\n\n## Audience\n\nPlatform engineers.\n\n"
        "## Message\n\nEvery agent action, audited.\n\n## Channels\n\nBlog, webinar.\n",
        ("## Audience", "## Message", "## Channels"),
    ),
    _doc_shape(
        "policy",
        {"people", "exec"},
        "Write the policy on quiet hours",
        "POLICY.md",
        "# Quiet hours\n\n## Scope\n\nEveryone on the floor.\n\n"
        "## Rule\n\nNo calls at desks 10:00-12:00.\n",
        ("## Scope", "## Rule"),
    ),
)


def _tokens_shape() -> Shape:
    tokens = (
        '{\n  "color": {"primary": "#1a73e8", "text": "#202124"},\n'
        '  "space": [4, 8, 16, 24, 32]\n}\n'
    )
    test = (
        "import json\nimport pathlib\nimport re\nimport unittest\n\n\n"
        "class TestTokens(unittest.TestCase):\n    def test_tokens(self):\n"
        "        tokens = json.loads((pathlib.Path(__file__).parent / 'tokens.json').read_text())\n"
        "        for value in tokens['color'].values():\n"
        "            self.assertRegex(value, r'^#[0-9a-f]{6}$')\n"
        "        self.assertEqual(tokens['space'], sorted(set(tokens['space'])))\n"
    )
    return Shape(
        "design:tokens",
        frozenset({"design"}),
        "Design tokens: colours and spacing",
        lambda seed: {"tokens.json": tokens, "test_tokens.py": test},
    )


def _contrast_shape() -> Shape:
    code = (
        '"""WCAG 2.x contrast ratio of two sRGB colours."""\n\n\n'
        "def _lum(hex_colour: str) -> float:\n"
        "    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]\n"
        "    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4\n"
        "           for c in channels]\n"
        "    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]\n\n\n"
        "def contrast(a: str, b: str) -> float:\n"
        "    high, low = sorted((_lum(a), _lum(b)), reverse=True)\n"
        "    return (high + 0.05) / (low + 0.05)\n"
    )
    test = _test_file(
        "contrast",
        "    def test_black_white(self):\n"
        "        self.assertAlmostEqual(m.contrast('#000000', '#ffffff'), 21.0)\n\n"
        "    def test_same(self):\n"
        "        self.assertAlmostEqual(m.contrast('#777777', '#777777'), 1.0)\n",
    )
    return Shape(
        "design:contrast-check",
        frozenset({"design"}),
        "Accessibility: a contrast checker for the palette",
        lambda seed: {"contrast.py": code, "test_contrast.py": test},
    )


def _all_shapes() -> tuple[Shape, ...]:
    shapes: list[Shape] = []
    for fn in FUNCTIONS:
        shapes += _code_shapes(fn)
    shapes += [
        *SQL_SHAPES,
        *DATA_SHAPES,
        *SHELL_SHAPES,
        *DOC_SHAPES,
        _tokens_shape(),
        _contrast_shape(),
    ]
    return tuple(shapes)


SHAPES: tuple[Shape, ...] = _all_shapes()
BY_ID: dict[str, Shape] = {shape.id: shape for shape in SHAPES}
