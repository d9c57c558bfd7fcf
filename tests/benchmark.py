"""
Benchmark: how much faster microgpt.py is than a baseline, in one sitting.

    python tests/benchmark.py                       # against the plain oracle, 100 steps
    python tests/benchmark.py --against HEAD~3      # against microgpt.py at a git revision
    python tests/benchmark.py --runs 5 -- --num_steps=1000   # options after -- go to both

The two programs run one after the other, alternating, so that whatever else
the machine does falls on both alike; the median of each side's wall times
gives the ratio. Peak memory is each run's maximum resident set size, read
from the operating system when the run ends (so this needs Linux or macOS).
It also checks that both printed the same bytes: speed counts only then.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def baseline_command(against, workdir):
    """The command line of the baseline, and a name for it."""
    if against == 'plain':
        return [sys.executable, os.path.join(ROOT, 'tests', 'plain_microgpt.py')], 'plain oracle'
    # an older microgpt.py, with the dataset beside it as it expects
    source = subprocess.run(['git', 'show', f'{against}:microgpt.py'], cwd=ROOT,
                            capture_output=True, check=True).stdout
    script = os.path.join(workdir, 'microgpt.py')
    with open(script, 'wb') as f:
        f.write(source)
    shutil.copy(os.path.join(ROOT, 'input.txt'), workdir)
    return [sys.executable, script], f'microgpt.py at {against}'


def timed_run(command, workdir):
    """Wall seconds, peak memory in MiB, and stdout of one run."""
    with tempfile.TemporaryFile(dir=workdir) as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, cwd=workdir)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = status  # already reaped by wait4
        if status:
            sys.exit(f'benchmark: {" ".join(command)} failed')
        out.seek(0)
        # ru_maxrss is in KiB on Linux and in bytes on macOS
        kib = usage.ru_maxrss / 1024 if sys.platform == 'darwin' else usage.ru_maxrss
        return seconds, kib / 1024, out.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--against', default='plain',
                        help="'plain' for tests/plain_microgpt.py, "
                             "or a git revision of microgpt.py (default: plain)")
    parser.add_argument('--runs', type=int, default=3, help='runs of each program (default: 3)')
    parser.add_argument('args', nargs='*', default=['--num_steps=100'],
                        help='options for both programs, after -- (default: --num_steps=100)')
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        baseline, baseline_name = baseline_command(opts.against, workdir)
        sides = {'microgpt.py': [sys.executable, os.path.join(ROOT, 'microgpt.py')],
                 baseline_name: baseline}
        print(f"microgpt.py against the {baseline_name}: {' '.join(opts.args)}, "
              f"{opts.runs} alternating runs each, Python {sys.version.split()[0]}")
        times = {name: [] for name in sides}
        peaks = {name: [] for name in sides}
        outputs = set()
        for run in range(opts.runs):
            for name, command in sides.items():
                seconds, mib, stdout = timed_run(command + opts.args, workdir)
                times[name].append(seconds)
                peaks[name].append(mib)
                outputs.add(stdout)
                print(f'  run {run + 1}: {name:<28} {seconds:7.2f} s {mib:7.1f} MiB', flush=True)

    fast, slow = (statistics.median(times[name]) for name in sides)
    print(f'median wall time: microgpt.py {fast:.2f} s, {baseline_name} {slow:.2f} s '
          f'-> {slow / fast:.2f}x faster')
    print('peak memory: ' + ', '.join(f'{name} {max(peaks[name]):.1f} MiB' for name in sides))
    print('same output bytes: ' + ('yes' if len(outputs) == 1 else 'NO, the outputs differ'))


if __name__ == '__main__':
    main()
