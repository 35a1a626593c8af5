"""The page frame and the handling of untrusted text.

Every model answer, case id, gold label, model name and run field is untrusted: it goes
through :func:`text` (secrets masked and control characters such as terminal escapes
shown as ``\\x1b``, by :func:`pytest_llmbench.safety.sanitising.shown`, then HTML-escaped).
A long answer is clipped (:func:`clipped` in tables, :func:`answer_block` on a case's page,
where a ``<details>`` holds the whole).

The pages carry one inline script (:data:`SCRIPT`: the filters) and inline CSS; the
Content-Security-Policy (:data:`CSP`) allows that script by its hash and nothing else: no
other script, no request to any URL, no frame.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from pytest_llmbench.reporting.html import CSS as REPORT_CSS
from pytest_llmbench.safety.sanitising import shown

__all__ = [
    "CSP",
    "SCRIPT",
    "Links",
    "answer_block",
    "clipped",
    "page",
    "slug",
    "text",
]

GRID_CLIP = 80
"""Characters of an answer shown in a grid cell (the case page shows more)."""
PAGE_CLIP = 4000
"""Characters of an answer shown open on a case page; the rest behind a ``<details>``."""

_CSS = """
body { max-width: 1400px; }
nav { margin: 0 0 12px; color: #57606a; }
nav a { margin-right: 12px; }
form.filters { margin: 8px 0; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
form.filters .count { color: #57606a; }
table.grid td { font-size: 12px; min-width: 90px; }
td.pass { background: #dafbe1; } td.fail { background: #ffebe9; } td.flaky { background: #fff8c5; }
td.none { color: #8c959f; }
.ans { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
.side { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.side > div { border: 1px solid #d0d7de; padding: 6px 8px; }
.side > div.fail { border-color: #cf222e; background: #fffafa; }
pre { white-space: pre-wrap; word-break: break-word; background: #f6f8fa; padding: 6px;
      max-height: 480px; overflow: auto; }
.mark { font-size: 11px; padding: 0 5px; border-radius: 8px; background: #fff8c5; }
.up { color: #1a7f37; } .down { color: #cf222e; }
"""

SCRIPT = """(function () {
  function apply(form) {
    var table = document.getElementById(form.getAttribute('data-target'));
    if (!table) { return; }
    var selects = form.querySelectorAll('select[data-key]');
    var flags = form.querySelectorAll('input[data-flag]');
    var rows = table.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i], ok = true;
      for (var j = 0; j < selects.length; j++) {
        var want = selects[j].value;
        if (want) {
          var key = 'data-' + selects[j].getAttribute('data-key');
          var have = ' ' + (row.getAttribute(key) || '') + ' ';
          if (have.indexOf(' ' + want + ' ') < 0) { ok = false; }
        }
      }
      var marks = ' ' + (row.getAttribute('data-flags') || '') + ' ';
      for (var k = 0; k < flags.length; k++) {
        if (flags[k].checked && marks.indexOf(' ' + flags[k].getAttribute('data-flag') + ' ') < 0) {
          ok = false;
        }
      }
      row.hidden = !ok;
      if (ok) { shown++; }
    }
    var count = form.querySelector('.count');
    if (count) { count.textContent = shown + ' of ' + rows.length + ' shown'; }
  }
  var forms = document.querySelectorAll('form.filters');
  for (var f = 0; f < forms.length; f++) {
    (function (form) {
      form.addEventListener('change', function () { apply(form); });
      form.addEventListener('submit', function (event) { event.preventDefault(); });
      apply(form);
    })(forms[f]);
  }
})();"""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""Only the one script of :data:`SCRIPT` runs; nothing is fetched from anywhere."""


def text(value: object) -> str:
    """Untrusted text as HTML: secrets masked, control characters shown, escaped."""
    return escape(shown(str(value)), quote=True)


def clipped(value: object, limit: int = GRID_CLIP) -> str:
    """:func:`text` of at most ``limit`` characters, ``…`` when cut."""
    raw = str(value)
    if len(raw) <= limit:
        return text(raw)
    return text(raw[:limit]) + "…"


def answer_block(value: object, limit: int = PAGE_CLIP) -> str:
    """A whole answer on a case page: open up to ``limit`` characters, the whole behind a
    ``<details>`` when longer."""
    raw = str(value)
    if len(raw) <= limit:
        return f'<pre class="ans">{text(raw)}</pre>'
    return (
        f'<pre class="ans clipped">{text(raw[:limit])}…</pre>'
        f'<details class="whole"><summary>show the whole answer ({len(raw):,} characters)'
        f'</summary><pre class="ans">{text(raw)}</pre></details>'
    )


def slug(value: str) -> str:
    """A file name part for ``--static``: ``value`` when it is plain, else a plain form
    of it with a short hash (two values never share a file)."""
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in value)
    plain = plain.lstrip(".")[:80] or "_"
    if plain == value:
        return value
    return f"{plain}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Links:
    """Where a page links to: the app's URLs (``/runs/<id>``) or, with ``static``, the
    files ``--static`` writes (``runs/<id>.html``, relative to the page: ``depth`` is how
    many directories below the output the page is)."""

    static: bool = False
    depth: int = 0

    def _to(self, *parts: str) -> str:
        if not self.static:
            return "/" + "/".join(quote(p, safe="") for p in parts)
        up = "../" * self.depth
        if not parts:
            return up + "index.html"
        head, *rest = parts
        return f"{up}{head}/{'--'.join(slug(p) for p in rest)}.html"

    def home(self) -> str:
        return self._to()

    def run(self, run_id: str) -> str:
        return self._to("runs", run_id)

    def case(self, run_id: str, task: str, case_id: str) -> str:
        return self._to("cases", run_id, task, case_id)

    def task(self, name: str) -> str:
        return self._to("tasks", name)

    def compare(self, a: str, b: str) -> str:
        return self._to("compare", a, b)


def page(title: str, body: list[str], links: Links, *, script: bool = False) -> str:
    """A whole page: ``title`` is plain text (escaped here), ``body`` HTML already."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{text(title)}</title><style>{REPORT_CSS}{_CSS}</style></head><body>",
            f'<nav><a href="{links.home()}">All runs</a></nav>',
            *body,
            *([f"<script>{SCRIPT}</script>"] if script else []),
            "</body></html>",
        ]
    )
