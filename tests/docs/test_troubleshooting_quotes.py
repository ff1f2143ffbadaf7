"""Every log line or error text the troubleshooting page quotes is one the
library can write: each quoted block matches a format string of the code and,
where the page names the logger just before it, one of that logger's module,
so the page cannot quote a message that was reworded, moved or never existed.
"""
import ast
import pathlib
import re
from typing import Optional

REPO = pathlib.Path(__file__).resolve().parents[2]
PAGE = REPO / 'doc' / 'source' / 'troubleshooting.rst'
FORMAT_SPEC = re.compile(r'%(\([a-z_]+\))?[-+ #0]*[0-9]*(\.[0-9]+)?[sdrfi]')
MIN_FIXED_TEXT = 15
LOGGER = re.compile(r'``(messaging(?:\.[a-z_]+)+)``')


def quoted_blocks(text: str) -> list[tuple[str, Optional[str]]]:
    """``(quote, logger)`` for each literal block of a reST page (the
    indented lines after ``::``); ``logger`` is the ``messaging.*`` module
    named last in the paragraph that introduces the block, if any."""
    blocks, lines = [], text.splitlines()
    for number, line in enumerate(lines):
        if not line.rstrip().endswith('::'):
            continue
        body = []
        for following in lines[number + 1:]:
            if following.strip() and not following.startswith('    '):
                break
            body.append(following.strip())
        intro = []
        for preceding in reversed(lines[:number + 1]):
            if not preceding.strip():
                break
            intro.insert(0, preceding)
        loggers = LOGGER.findall(' '.join(intro))
        quote = ' '.join(part for part in body if part)
        if quote:
            blocks.append((quote, loggers[-1] if loggers else None))
    return blocks


def code_formats() -> dict[str, list[re.Pattern]]:
    """By module name, every string constant of it as a pattern, each %-spec
    (and so each ``<placeholder>`` of the page) matching any text."""
    return {module: [pattern for pattern in map(_pattern, texts) if pattern]
            for module, (texts, _imports) in _modules().items()}


def formats_reaching(module: str) -> list[re.Pattern]:
    """The patterns of ``module`` and of the messaging modules it imports: a
    logger can write a message another module wrote (``LOG.error('%s', ex)``)."""
    modules = _modules()
    texts, imports = modules.get(module, ([], []))
    reached = list(texts)
    for imported in imports:
        reached.extend(modules.get(imported, ([], []))[0])
    return [pattern for pattern in map(_pattern, reached) if pattern]


def _pattern(text: str) -> Optional[re.Pattern]:
    """None for a format with too little fixed text to tell messages apart
    (``'%s %s: %s'`` would match any quote)."""
    pieces = FORMAT_SPEC.split(text)
    literal = [(piece or '').replace('%%', '%') for index, piece in enumerate(pieces)
               if index % 3 == 0]
    if len(''.join(literal).strip()) < MIN_FIXED_TEXT:
        return None
    return re.compile('.+?'.join(re.escape(piece) for piece in literal))


def _modules() -> dict[str, tuple[list[str], list[str]]]:
    """By module name: its string constants, and the messaging modules it
    imports (``from messaging.a import b`` counts ``messaging.a`` and
    ``messaging.a.b``)."""
    modules = {}
    for path in (REPO / 'messaging').rglob('*.py'):
        module = '.'.join(path.relative_to(REPO).with_suffix('').parts)
        texts, imports = [], []
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and len(node.value) > 20:
                texts.append(node.value)
            elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith(
                    'messaging'):
                imports.append(node.module)
                imports.extend('%s.%s' % (node.module, alias.name) for alias in node.names)
        modules[module] = (texts, imports)
    return modules


def matches(quote: str, patterns: list[re.Pattern]) -> bool:
    if quote.endswith('...'):
        quote = quote[:-3].rstrip()
        return any(pattern.match(quote) for pattern in patterns)
    return any(pattern.fullmatch(quote) for pattern in patterns)


def test_every_quoted_message_is_written_by_the_code():
    quotes = quoted_blocks(PAGE.read_text(encoding='utf-8'))
    modules = code_formats()
    everywhere = [pattern for patterns in modules.values() for pattern in patterns]
    assert len(quotes) >= 12
    unknown = [quote for quote, _ in quotes if not matches(quote, everywhere)]
    assert unknown == []


def test_a_quote_under_a_logger_name_is_written_by_that_module():
    quotes = quoted_blocks(PAGE.read_text(encoding='utf-8'))
    named = [(quote, logger) for quote, logger in quotes if logger]
    assert len(named) >= 6
    wrong = [(logger, quote) for quote, logger in named
             if not matches(quote, formats_reaching(logger))]
    assert wrong == []


def test_a_made_up_or_misplaced_message_is_caught():
    modules = code_formats()
    everywhere = [pattern for patterns in modules.values() for pattern in patterns]
    assert not matches('Something the library never says about <host>', everywhere)
    assert not matches('Something: it never says, in the form "%s %s: %s"', everywhere)
    heartbeat = 'A recoverable connection/channel error occurred, trying to reconnect: <e>'
    assert matches(heartbeat, formats_reaching('messaging.drivers.rabbit.heartbeat'))
    assert not matches(heartbeat, formats_reaching('messaging.drivers.rabbit.confirms'))
