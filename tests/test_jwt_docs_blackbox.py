"""The examples of docs/jwt.md, run as a reader would against a real server: its
``createclient`` command, then each Python example, which must print what the page says."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from deployment import REPO_ROOT

pytestmark = pytest.mark.blackbox

PAGE = (REPO_ROOT / "docs" / "jwt.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```\n\nIt prints `([^`]*)`", PAGE, re.DOTALL)


@pytest.fixture(scope="module")
def server(demo_server):
    server = demo_server
    for block in re.findall(r"```sh\n(.*?)```", PAGE, re.DOTALL):
        command = block.replace("\\\n", " ")
        if "manage.py createclient" in command:
            argv = shlex.split(command)
            server.manage(*argv[argv.index("manage.py") + 1 :])
    return server


def test_the_page_has_its_examples():
    assert len(EXAMPLES) == 2


@pytest.mark.parametrize(("code", "printed"), EXAMPLES, ids=["access-token", "introspection-response"])
def test_example(server, code, printed):
    env = {**os.environ, "IDENTITY_URL": server.base_url, "IDENTITY_CA": server.cert}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == printed
