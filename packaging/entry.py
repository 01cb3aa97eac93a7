"""Entry point of the packaged application: the same as the ``hmi`` command."""

from hmi.cli import main

raise SystemExit(main())
