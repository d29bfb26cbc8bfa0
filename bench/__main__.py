import sys

from bench import runtime

runtime.tune()   # before torch is imported (bench.cli imports it)

from bench.cli import main  # noqa: E402

sys.exit(main())
