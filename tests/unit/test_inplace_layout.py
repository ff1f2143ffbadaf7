"""inplace/setup.cfg stays in step with the library it puts in place."""
import configparser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


def read_setup_cfg(folder: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=('#',))
    parser.read(folder / 'setup.cfg')
    return parser


def entry_points(parser: configparser.ConfigParser) -> dict[str, dict[str, str]]:
    groups = {}
    for group, text in parser['options.entry_points'].items():
        lines = [line.split('=', 1) for line in text.strip().splitlines()]
        groups[group] = {name.strip(): target.strip() for name, target in lines}
    return groups


ours = read_setup_cfg(REPO)
inplace = read_setup_cfg(REPO / 'inplace')


def test_the_in_place_version_is_oslos_release_labelled_with_ours():
    version = Version(inplace['metadata']['version'])
    assert version.public == '18.3.1'
    assert version.local == 'messaging.' + ours['metadata']['version']


def test_the_in_place_distribution_pins_this_messaging_release():
    requirements = [Requirement(line) for line in
                    inplace['options']['install_requires'].strip().splitlines()
                    if line.strip() and not line.strip().startswith('#')]
    pin = next(req for req in requirements if req.name == 'messaging')
    assert str(pin.specifier) == '==' + ours['metadata']['version']


def test_oslo_namespaces_point_at_the_same_plugins_as_ours():
    mine, theirs = entry_points(ours), entry_points(inplace)
    for group in ('messaging.drivers', 'messaging.executors', 'messaging.notify.drivers'):
        assert theirs['oslo.' + group] == mine[group], group
    assert theirs['oslo.config.opts'] == {'oslo.messaging': mine['oslo.config.opts']['messaging']}


def test_messaging_itself_declares_none_of_oslos_entry_points():
    mine = entry_points(ours)
    assert not [group for group in mine if group.startswith('oslo.messaging')]
    assert 'oslo.messaging' not in mine['oslo.config.opts']
