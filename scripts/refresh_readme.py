#!/usr/bin/env python3
"""Rewrite the captured output of the README and the docs by running the commands again.

Each captured block in README.md and docs/**/*.md sits between two marker lines:

    <!-- capture: bench run four-tabs --time-scale 0.1 -->
    ```text
    ...whatever the command printed last time...
    ```
    <!-- end capture -->

This script runs every marked command from the repository's root (in the current
virtual environment, 120 columns, no colour) and puts what it printed between the
markers, with the command line first. Run it after a change to what the commands
print, and commit the pages with the change (a command captured on several pages runs once):

    python scripts/refresh_readme.py            # every block
    python scripts/refresh_readme.py --only load_vs_wrk   # the blocks whose command contains this
    python scripts/refresh_readme.py --check    # exit 1 if a block has no end marker (nothing runs)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^<!-- capture: (?P<cmd>.+?) -->\n(?P<body>.*?)^<!-- end capture -->$", re.M | re.S)


def capture(command: str) -> str:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # `bench` and `python` of this environment
    done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3):
        raise SystemExit(f"refresh_readme: `{command}` exited {done.returncode}:\n{done.stderr[-2000:]}")
    text = "\n".join(line.rstrip() for line in done.stdout.rstrip().splitlines())  # rich pads lines to the width
    return f"```text\n$ {command}\n{text}\n```\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="refresh only the blocks whose command contains this text")
    parser.add_argument("--check", action="store_true", help="only check that every block is well formed")
    args = parser.parse_args(argv)
    texts = {page: page.read_text(encoding="utf-8") for page in PAGES}
    for page, text in texts.items():
        starts = len(re.findall(r"^<!-- capture: ", text, re.M))
        ends = len(BLOCK.findall(text))
        if ends != starts:
            print(
                f"refresh_readme: {page.relative_to(ROOT)}: {starts} capture markers but {ends} end markers",
                file=sys.stderr,
            )
            return 1
    if args.check:
        for page, text in texts.items():
            commands = [m["cmd"] for m in BLOCK.finditer(text)]
            if commands:
                print(f"{page.relative_to(ROOT)}: {len(commands)} captured blocks: {', '.join(commands)}")
        return 0
    captured: dict[str, str] = {}

    def refresh(m: re.Match[str]) -> str:
        if args.only and args.only not in m["cmd"]:
            return m.group(0)
        if m["cmd"] not in captured:
            print(f"running: {m['cmd']}", file=sys.stderr)
            captured[m["cmd"]] = capture(m["cmd"])
        return f"<!-- capture: {m['cmd']} -->\n{captured[m['cmd']]}<!-- end capture -->"

    for page, text in texts.items():
        page.write_text(BLOCK.sub(refresh, text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
