"""schemathesis hooks of tests/schemathesis.sh: the run's credential.

A `manage` token for root, minted with the real `apitoken` command. The fuzzer learns ids
and user names from the answers and soon deletes its own token (DELETE
/api/v1/users/root/tokens); schemathesis then sees a 401, calls `get` again and retries,
so the rest of the run stays authenticated instead of testing only the 401 path.
"""

import itertools
import os
import subprocess

import schemathesis

_serial = itertools.count(1)


@schemathesis.auth()
class ManageToken:
    def get(self, case, ctx):
        name = f"schemathesis-{next(_serial)}"
        out = subprocess.run(
            [os.environ["APITOKEN_BIN"], "--socket", os.environ["APITOKEN_SOCKET"],
             "create", "--user", "root", "--scope", "manage,read", "--name", name],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def set(self, case, data, ctx):
        if case.headers is None:
            case.headers = {}
        case.headers["Authorization"] = f"Bearer {data}"
