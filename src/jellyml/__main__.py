from __future__ import annotations

from jellyml.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
