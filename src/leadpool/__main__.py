"""``python -m leadpool``: the same CLI as the ``leadpool`` console script (``leadpool.cli:main``)."""

from leadpool.cli import main

if __name__ == "__main__":
    main()
