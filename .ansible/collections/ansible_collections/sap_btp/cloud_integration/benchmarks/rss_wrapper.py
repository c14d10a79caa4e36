# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark-only Python interpreter wrapper: runs a module and records its peak RSS.

Used as `ansible_python_interpreter="<python> benchmarks/rss_wrapper.py"`: Ansible then runs
`<python> rss_wrapper.py <AnsiballZ module>`; the module runs in a child process with unchanged stdin/stdout, and the
child's peak RSS (kB) is appended to $BENCH_RSS_FILE as `<kB> <module file name>`.
"""

import os
import resource
import subprocess
import sys


def main():
    proc = subprocess.run([sys.executable] + sys.argv[1:], check=False)
    path = os.environ.get("BENCH_RSS_FILE")
    if path:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("%d %s\n" % (peak, os.path.basename(sys.argv[1]) if len(sys.argv) > 1 else "-"))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
