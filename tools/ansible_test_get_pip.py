# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the get-pip script that ansible-test downloads when it bootstraps a venv.

ansible-test (2.19) runs ``~/.ansible/test/cache/get_pip_<pip version>.py`` (for example
``get_pip_24_2.py``) with pip's install arguments, and downloads it from a host that is not
reachable here when the file is missing ("... does not have pip available"). ``make sanity``
copies this file there when it is missing. It installs pip into the running interpreter with
``ensurepip`` (no network), restores the environment (``ensurepip`` points PIP_CONFIG_FILE at
/dev/null, which would hide the machine's pip configuration: index mirrors, certificates), then
runs ``pip install`` with the arguments it was given, minus get-pip's own ``--no-setuptools``
and ``--no-wheel``.
"""
from __future__ import annotations

import ensurepip
import importlib
import os
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main() -> int:
    saved = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    os.environ.clear()
    os.environ.update(saved)
    importlib.invalidate_caches()
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    return pip_main(["install", *args])


if __name__ == "__main__":
    sys.exit(main())
