"""Every log line or error text the troubleshooting page quotes is one the
library can write: each quoted block matches a format string of the code,
so the page cannot quote a message that was reworded or never existed."""
import ast
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
PAGE = REPO / 'doc' / 'source' / 'troubleshooting.rst'
FORMAT_SPEC = re.compile(r'%(\([a-z_]+\))?[-+ #0]*[0-9]*(\.[0-9]+)?[sdrfi]')


def quoted_blocks(text: str) -> list[str]:
    """The literal blocks of a reST page (the indented lines after ``::``)."""
    blocks, lines = [], text.splitlines()
    for number, line in enumerate(lines):
        if not line.rstrip().endswith('::'):
            continue
        body = []
        for following in lines[number + 1:]:
            if following.strip() and not following.startswith('    '):
                break
            body.append(following.strip())
        blocks.append(' '.join(part for part in body if part))
    return [block for block in blocks if block]


def code_formats() -> list[re.Pattern]:
    """Every string constant of the library as a pattern, each %-spec (and
    each ``<placeholder>`` of the page) matching any text."""
    patterns = []
    for path in (REPO / 'messaging').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and len(node.value) > 20:
                pieces = FORMAT_SPEC.split(node.value)
                literal = [piece for index, piece in enumerate(pieces) if index % 3 == 0]
                patterns.append(re.compile('.+?'.join(re.escape(piece) for piece in literal)))
    return patterns


def matches(quote: str, patterns: list[re.Pattern]) -> bool:
    if quote.endswith('...'):
        quote = quote[:-3].rstrip()
        return any(pattern.match(quote) or quote in pattern.pattern for pattern in patterns)
    return any(pattern.fullmatch(quote) for pattern in patterns)


def test_every_quoted_message_is_written_by_the_code():
    quotes = quoted_blocks(PAGE.read_text(encoding='utf-8'))
    patterns = code_formats()
    assert len(quotes) >= 12
    unknown = [quote for quote in quotes if not matches(quote, patterns)]
    assert unknown == []


def test_a_made_up_message_is_caught():
    assert not matches('Something the library never says about <host>', code_formats())
