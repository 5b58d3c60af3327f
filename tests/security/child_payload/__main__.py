"""Entry point of the payload child: see :mod:`tests.security.child_payload.child`."""

import sys

from tests.security.child_payload.child import main

main(sys.argv[1:])
