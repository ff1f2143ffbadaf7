"""README.md: every repository path it names exists, and its ``serve``
example loads, through the command's own loader, an endpoint that adds."""
import os
import re
import subprocess
import sys

from tests.docs.conftest import REPO


def readme() -> str:
    with open('%s/README.md' % REPO, encoding='utf-8') as stream:
        return stream.read()


def test_every_path_the_readme_names_is_in_the_repository():
    named = set(re.findall(r'`((?:[\w.-]+/)+[\w.-]*)`', readme()))
    named |= set(re.findall(r'\]\(([\w./-]+)\)', readme()))
    assert {'examples/calculator.py', 'tests/unit/', 'doc/'} <= named
    missing = sorted(path for path in named if not os.path.exists(os.path.join(REPO, path)))
    assert missing == []


def test_the_readme_names_no_file_of_the_shared_folder():
    assert 'DESIGN.md' not in readme() and 'shared folder' not in readme()


def test_the_serve_example_loads_an_endpoint_whose_add_answers_3():
    [line] = [line for line in readme().splitlines() if ' messaging serve ' in line]
    pythonpath, module_attr = re.match(r'PYTHONPATH=(\S+) messaging serve (\S+)', line).groups()
    check = ('import sys; sys.path.insert(0, %r)\n'
             'from messaging.cli import rpc_commands\n'
             '[endpoint] = rpc_commands.load_endpoints(%r)\n'
             'print(endpoint.add({}, a=1, b=2))' % ('%s/%s' % (REPO, pythonpath), module_attr))
    done = subprocess.run([sys.executable, '-c', check], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == '3'


def test_the_test_command_reports_skip_reasons():
    lines = readme().splitlines()
    command = lines[lines.index('<!-- test-command -->') + 2]
    assert command.endswith('python3 -m pytest -rs')
