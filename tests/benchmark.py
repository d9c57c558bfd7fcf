"""
Benchmark: how much faster microgpt.py is than a baseline, in one sitting.

    python3 tests/benchmark.py                       # against the plain oracle, 100 steps
    python3 tests/benchmark.py --against HEAD~3      # against microgpt.py at a git revision
    python3 tests/benchmark.py --runs 5 -- --num_steps=1000   # options after -- go to both
    python3 tests/benchmark.py --python pypy3 --against this -- --num_steps=1000
                                                     # this microgpt.py, PyPy against CPython

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


def fail(message):
    print(f'benchmark.py: error: {message}', file=sys.stderr)
    sys.exit(2)


def at_least_one(text):
    """An argparse type: a whole number of runs, 1 or more."""
    if int(text) < 1:  # a ValueError makes argparse say "invalid whole number value"
        raise argparse.ArgumentTypeError(f'must be at least 1, got {text}')
    return int(text)


at_least_one.__name__ = 'whole number'


def interpreter(name):
    """An argparse type: a Python interpreter that runs, by path or by name on PATH."""
    found = shutil.which(name)
    if found is None:
        raise argparse.ArgumentTypeError(f'no interpreter {name!r} here')
    return found


def baseline_script(against, workdir):
    """The baseline's script, and a name for it."""
    if against == 'plain':
        return os.path.join(ROOT, 'tests', 'plain_microgpt.py'), 'the plain oracle'
    if against == 'this':
        return os.path.join(ROOT, 'microgpt.py'), 'microgpt.py'
    # an older microgpt.py, with the dataset beside it as it expects
    shown = subprocess.run(['git', 'show', f'{against}:microgpt.py'], cwd=ROOT,
                           capture_output=True)
    if shown.returncode:
        fail(f'--against {against}: git has no microgpt.py at that revision; '
             f"name one that `git log` shows, or 'plain' or 'this'")
    script = os.path.join(workdir, 'microgpt.py')
    with open(script, 'wb') as f:
        f.write(shown.stdout)
    shutil.copy(os.path.join(ROOT, 'input.txt'), workdir)
    return script, f'microgpt.py at {against}'


def timed_run(command, workdir):
    """Wall seconds, peak memory in MiB, and stdout of one run."""
    with tempfile.TemporaryFile(dir=workdir) as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, cwd=workdir)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = status  # already reaped by wait4
        if status:
            print(f'benchmark.py: error: {" ".join(command)} failed', file=sys.stderr)
            sys.exit(1)
        out.seek(0)
        # ru_maxrss is in KiB on Linux and in bytes on macOS
        kib = usage.ru_maxrss / 1024 if sys.platform == 'darwin' else usage.ru_maxrss
        return seconds, kib / 1024, out.read()


def version(python):
    probe = 'import sys, platform; print(platform.python_implementation(), sys.version.split()[0])'
    return subprocess.run([python, '-c', probe], capture_output=True, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.error = lambda message: fail(f'{message}; see --help')  # one line, not a usage dump
    parser.add_argument('--against', default='plain',
                        help="'plain' for tests/plain_microgpt.py, 'this' for microgpt.py itself, "
                             "or a git revision of microgpt.py (default: plain)")
    parser.add_argument('--runs', type=at_least_one, default=3,
                        help='runs of each program (default: 3)')
    parser.add_argument('--python', type=interpreter, default=sys.executable,
                        help='the interpreter for microgpt.py (default: this one)')
    parser.add_argument('--against-python', type=interpreter, default=sys.executable,
                        help='the interpreter for the baseline (default: this one)')
    parser.add_argument('args', nargs='*', default=['--num_steps=100'],
                        help='options for both programs, after -- (default: --num_steps=100)')
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        script, baseline_name = baseline_script(opts.against, workdir)
        fast_name = f'microgpt.py on {version(opts.python)}'
        baseline_name += f' on {version(opts.against_python)}'
        sides = {fast_name: [opts.python, os.path.join(ROOT, 'microgpt.py')],
                 baseline_name: [opts.against_python, script]}
        print(f"{fast_name} against {baseline_name}: {' '.join(opts.args)}, "
              f"{opts.runs} alternating runs each")
        times = {name: [] for name in sides}
        peaks = {name: [] for name in sides}
        outputs = set()
        for run in range(opts.runs):
            for name, command in sides.items():
                seconds, mib, stdout = timed_run(command + opts.args, workdir)
                times[name].append(seconds)
                peaks[name].append(mib)
                outputs.add(stdout)
                print(f'  run {run + 1}: {name:<44} {seconds:7.2f} s {mib:7.1f} MiB', flush=True)

    fast, slow = (statistics.median(times[name]) for name in sides)
    print(f'median wall time: {fast:.2f} s against {slow:.2f} s -> {slow / fast:.2f}x faster')
    print('peak memory: ' + ', '.join(f'{name} {max(peaks[name]):.1f} MiB' for name in sides))
    print('same output bytes: ' + ('yes' if len(outputs) == 1 else 'NO, the outputs differ'))


if __name__ == '__main__':
    main()
