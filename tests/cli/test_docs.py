"""What the documentation says of the ``messaging`` command holds: every
example command line of cli.rst and the README parses with the command's own
parser, the options where the examples put them."""
from __future__ import annotations

import importlib
import shlex
import sys

import pytest
from oslo_config import cfg

import messaging
from messaging.cli.main import build_parser, parse_args
from tests.cli.runner import REPO

# The module (messaging.cli.main is also the package's name for its function).
cli_main = importlib.import_module('messaging.cli.main')
CLI_DOC = REPO / 'doc' / 'source' / 'cli.rst'


def _cli_doc_examples() -> list[list[str]]:
    """The console examples of cli.rst (``$ messaging ...``), as argv lists."""
    return [shlex.split(line.split('$ messaging ', 1)[1])
            for line in CLI_DOC.read_text().splitlines()
            if line.lstrip().startswith('$ messaging ')]


def _readme_examples() -> list[list[str]]:
    """The README's shell lines that run ``messaging``, as argv lists."""
    examples, in_shell = [], False
    for line in (REPO / 'README.md').read_text().splitlines():
        if line.startswith('```'):
            in_shell = line.strip() == '```sh'
            continue
        words = shlex.split(line, comments=True) if in_shell else []
        while words and '=' in words[0] and not words[0].startswith('-'):
            words.pop(0)   # VAR=value before the command
        if words[:1] == ['messaging']:
            examples.append([word for word in words[1:] if word != '&'])
    return examples


@pytest.fixture(autouse=True)
def configuration_files_need_not_exist(monkeypatch):
    """The examples name files of a service's host (/etc/nova/nova.conf)."""
    monkeypatch.setattr(cli_main, 'readable_file', str)


def _parsed(argv: list[str]):
    try:
        return parse_args(build_parser(), argv)
    except SystemExit:
        pytest.fail('the documented command line does not parse: messaging %s'
                    % shlex.join(argv))


def test_the_documents_have_examples_of_every_command():
    commands = {_parsed(argv).command for argv in _cli_doc_examples()}
    assert commands == {'call', 'cast', 'ping', 'notify', 'listen', 'serve'}
    assert len(_readme_examples()) >= 5


@pytest.mark.parametrize('argv', _cli_doc_examples() + _readme_examples(),
                         ids=lambda argv: ' '.join(argv[:2]))
def test_every_documented_command_line_parses(argv):
    args = _parsed(argv)
    # The common options count wherever the example puts them.
    if '--transport-url' in argv:
        assert args.transport_url == argv[argv.index('--transport-url') + 1]
    if '--config-file' in argv:
        assert args.config_file == [argv[argv.index('--config-file') + 1]]
    assert args.debug == ('--debug' in argv)


def test_the_cli_doc_shows_the_common_options_after_the_subcommand():
    commands = {'call', 'cast', 'fanout', 'ping', 'notify', 'listen', 'serve'}
    for option in ('--transport-url', '--config-file', '--debug'):
        assert any(option in argv and argv.index(option) > argv.index(_parsed(argv).command)
                   for argv in _cli_doc_examples() if commands & set(argv)), option


def test_the_common_options_given_after_the_subcommand_add_to_or_win_over_those_before(
        tmp_path):
    first, second = tmp_path / 'a.conf', tmp_path / 'b.conf'
    first.write_text('')
    second.write_text('')
    args = _parsed(['--transport-url', 'fake://before', '--config-file', str(first),
                    'ping', 't', '--transport-url', 'fake://after',
                    '--config-file', str(second), '--debug'])
    assert args.transport_url == 'fake://after'
    assert args.config_file == [str(first), str(second)]
    assert args.debug
    before_only = _parsed(['--transport-url', 'fake://before', '--debug', 'ping', 't'])
    assert (before_only.transport_url, before_only.debug) == ('fake://before', True)


def test_the_migration_note_on_transport_url_says_which_of_str_and_repr_masks():
    sys.path.insert(0, str(REPO / 'doc' / 'source' / '_ext'))
    try:
        import migration_notes
    finally:
        sys.path.pop(0)
    note = migration_notes.NOTES['oslo_messaging.transport.TransportURL']
    url = messaging.TransportURL.parse(cfg.ConfigOpts(), 'rabbit://alice:s3cret@host:5672/')
    assert 's3cret' not in repr(url) and note.startswith('repr() masks the password')
    assert 's3cret' in str(url) and 'str() gives the URL with its password' in note
