#!/usr/bin/env sh
# Print the path of a working Python X.Y interpreter (argument "X.Y"), or nothing when there is none.
# Looks on PATH first, then in pyenv's versions (pyenv shims answer for versions that are installed
# but not selected, so the shim alone is not proof).
want="$1"
check() {
    [ -x "$1" ] && "$1" -c "import sys, venv; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1
}
if found=$(command -v "python$want" 2>/dev/null) && check "$found"; then
    echo "$found"; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/"$want"*/bin/python"$want"; do
        if check "$candidate"; then echo "$candidate"; exit 0; fi
    done
fi
exit 0
