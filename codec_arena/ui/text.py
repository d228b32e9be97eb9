"""Strings that go into Gradio Markdown, shown literally.

Gradio renders Markdown with GitHub's extensions, so an operating point such as `dac_44khz@7.752`
becomes a `mailto:` link and a file name with underscores turns italic. Every string the app did not
write itself (ids, operating points, file names, titles, messages that quote them) goes through
`md()` or `code()` before it is put into Markdown.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~@:])")


def md(text: object) -> str:
    """`text` as literal Markdown: punctuation that Markdown or its autolinks act on is escaped."""
    return _SPECIAL.sub(r"\\\1", str(text))


def code(text: object) -> str:
    """`text` as an inline code span (never a link, never emphasis), whatever backticks it holds."""
    value = str(text).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"
