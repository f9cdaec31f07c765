"""The lifeline's watchdog: ``python -m bench.engine.lifeline OWNER``.

Started by the harness's first ``spawn`` (it detaches at once) with its standard input on a pipe whose write
end only the harness holds. Reading blocks until the harness ends, however it ends
(the kernel closes the pipe even after SIGKILL); then every process with the harness's
owner mark is stopped. It ignores the terminal's Ctrl-C: the harness handles that and
the pipe tells the watchdog when it is over.
"""

from __future__ import annotations

import os
import signal
import sys

from bench.engine.owners import forget, kill_marked


def main(argv: list[str]) -> int:
    if os.fork() > 0:
        return 0  # the harness waits for this parent only; the child below watches
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    owner = argv[1]
    while os.read(0, 4096):  # nothing is ever written: this returns b"" when the harness is gone
        pass
    kill_marked(owner)
    forget(owner)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
