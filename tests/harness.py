"""What the tests share: where things are, how to run the script, and a
recorder that trains and samples as main() does while keeping every number."""
import os
import random
import signal
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'expected')
SCRIPT = os.path.join(ROOT, 'microgpt.py')

# The slow checks (whole default runs, minutes each) run only when this is set.
SLOW = os.environ.get('MICROGPT_SLOW') == '1'
SLOW_REASON = 'a full run takes minutes: set MICROGPT_SLOW=1 to include it'


def expected_bytes(name):
    """A reference output copied from the reference program, as bytes."""
    with open(os.path.join(EXPECTED, name), 'rb') as f:
        return f.read()


def expected_lines(name):
    """A reference file of one repr() per line (losses, gradients)."""
    return expected_bytes(name).decode('ascii').split()


def run_script(*args, script=SCRIPT, cwd=None, env=None, timeout=600, stdout=subprocess.PIPE):
    """Run microgpt.py (or another script) with options; stdout and stderr as bytes."""
    return subprocess.run([sys.executable, script, *args], cwd=cwd, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)


def record_run(model, docs, seed=42, n_layer=1, n_embd=16, block_size=16, n_head=4,
               num_steps=20, learning_rate=0.01, temperature=0.5, num_samples=20, prompt=''):
    """Train and sample with the functions of `model` (microgpt or the plain
    oracle) in the order main() calls them, and keep what main() only prints
    rounded: the loss and every gradient of each step, the final weights and
    the samples as token ids."""
    docs = list(docs)
    random.seed(seed)
    random.shuffle(docs)
    chars = sorted(set(''.join(docs)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    BOS = len(chars)
    state_dict = model.init_state_dict(BOS + 1, n_layer, n_embd, block_size)
    params = [p for mat in state_dict.values() for row in mat for p in row]
    m, v = [0.0] * len(params), [0.0] * len(params)
    losses, grads = [], []
    for step in range(num_steps):
        doc = docs[step % len(docs)]
        tokens = [BOS] + [stoi[ch] for ch in doc] + [BOS]
        loss = model.doc_loss(tokens, state_dict, n_layer, n_head, block_size)
        loss.backward()
        losses.append(loss.data)
        grads.append([p.grad for p in params])
        model.adam_step(params, m, v, step, num_steps, learning_rate)
    prompt_ids = [stoi[ch] for ch in prompt]
    samples = [model.sample(state_dict, n_layer, n_head, block_size, BOS, temperature, prompt_ids)
               for _ in range(num_samples)]
    return {'losses': losses, 'grads': grads, 'weights': [p.data for p in params],
            'samples': samples}


def reprs(numbers):
    """Numbers as repr() strings: equal strings mean equal bits (and int 0 stays '0')."""
    return [repr(x) for x in numbers]


def first_difference(got, want):
    """Where two sequences first differ, said in a line: found in one pass, so a
    failing comparison of a million numbers reports in moments, not minutes."""
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    if isinstance(got, bytes):  # a little context around the first differing byte
        return (f'first difference at byte {i}: {got[max(i - 30, 0):i + 30]!r} '
                f'!= {want[max(i - 30, 0):i + 30]!r}')
    side = lambda seq: repr(seq[i]) if i < len(seq) else f'(the end: {len(seq)} items)'
    return f'first difference at [{i}]: {side(got)} != {side(want)}'


class ExactTestCase(unittest.TestCase):
    def assertSame(self, got, want, what='values'):
        """got == want exactly, for long lists and byte strings too."""
        if got != want:
            self.fail(f'{what}: {first_difference(got, want)}')

    def assertSameSteps(self, got, want, what='gradients', unit='step'):
        """Lists of lists (one per step) equal, the first differing step and item named."""
        self.assertEqual(len(got), len(want), f'{what}: the number of {unit}s')
        for step, (g, w) in enumerate(zip(got, want)):
            self.assertSame(g, w, f'{what} of {unit} {step + 1}')


def default_sigint():
    """For a child process: Ctrl-C as Python normally handles it, even when these
    tests run with SIGINT ignored (under nohup, or by a CI runner)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def unprivileged():
    """(python, preexec_fn) that run a script as a user without root's power to
    read and write anything, for checks of permissions; None if that cannot be
    arranged here. The script itself must lie where that user can read it."""
    if not hasattr(os, 'geteuid'):
        return None
    if os.geteuid() != 0:
        return sys.executable, None
    try:
        import pwd
        nobody = pwd.getpwnam('nobody')
    except (ImportError, KeyError):
        return None

    def drop_root():
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    # this interpreter may sit in root's home, where nobody may not go
    for python in (sys.executable, '/usr/bin/python3'):
        try:
            probe = subprocess.run([python, '-c', 'import sys; assert sys.version_info >= (3, 8)'],
                                   preexec_fn=drop_root, capture_output=True, timeout=60)
        except OSError:
            continue
        if probe.returncode == 0:
            return python, drop_root
    return None
