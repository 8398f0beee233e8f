"""``python -m karvan``: the ``karvan`` command, for an environment whose scripts folder is not
on the PATH."""

from karvan.cli import main

if __name__ == "__main__":
    main()
