"""What the tests share: where things are, how to run the script, the
lecture's settings with some changed (settings_with), the model's sizes as
init_state_dict() makes them, a recorder that trains and samples as main()
does while keeping every number, and the base of the faithful tests
(FaithfulTestCase), whose failures say that the model's numbers differ from
the reference program's or the plain oracle's; and the folders that tests
write in (Folder, CheckpointFolder), with a small dataset and a tiny model."""
import argparse
import contextlib
import hashlib
import io
import json
import os
import pathlib
import random
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest
from types import SimpleNamespace
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'expected')
SCRIPT = os.path.join(ROOT, 'microgpt.py')
PLAIN_SCRIPT = os.path.join(ROOT, 'tests', 'plain_microgpt.py')

sys.path.insert(0, ROOT)  # for a test module run as a script, too
import microgpt  # noqa: E402

# The slow checks (whole default runs, minutes each) run only when this is set.
SLOW = os.environ.get('MICROGPT_SLOW') == '1'
SLOW_REASON = 'a full run takes minutes: set MICROGPT_SLOW=1 to include it'
# Checks of a few seconds each, left out of the quick run to keep it under a minute
# .ci/run sets MICROGPT_SLOW=1 for its last pass, which runs them.
seconds = unittest.skipUnless(SLOW, 'seconds long: set MICROGPT_SLOW=1 to include it')


def expected_bytes(name):
    """A reference output copied from the reference program, as bytes."""
    with open(os.path.join(EXPECTED, name), 'rb') as f:
        return f.read()


def expected_lines(name):
    """A reference file of one repr() per line (losses, gradients)."""
    return expected_bytes(name).decode('ascii').split()



def run_main(*args):
    """main() in this process: (exit status, stdout, stderr). The recursion limit that
    main() lifts for a deep model is put back, as the script's own process would end."""
    out, err = io.StringIO(), io.StringIO()
    status, limit = 0, sys.getrecursionlimit()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            microgpt.main(list(args))
        except SystemExit as e:
            status = e.code
        finally:
            sys.setrecursionlimit(limit)
    return status, out.getvalue(), err.getvalue()

def run_script(*args, script=SCRIPT, cwd=None, env=None, timeout=600, stdout=subprocess.PIPE):
    """Run microgpt.py (or another script) with options; stdout and stderr as bytes."""
    return subprocess.run([sys.executable, script, *args], cwd=cwd, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)


# The driver of run_planted: the lecture imported from this repository, a slip planted
# in it at run time, then main() as the command line calls it (with CPython's cycle
# collector paused, as the script pauses it: the graphs hold no cycles, and it is faster)
DRIVER = '''\
import gc, math, sys
if sys.implementation.name == 'cpython':
    gc.disable()
sys.path.insert(0, {root!r})
import microgpt
from microgpt import Value
{plant}
microgpt.main({argv!r})
'''


def run_planted(plant, *args, cwd=None, env=None, timeout=600):
    """main() with options in a new interpreter, after `plant`: Python code run
    first, with microgpt imported (and Value, math and sys at hand), that plants a
    slip by replacing a function or an attribute of the lecture, never by editing a
    line of microgpt.py, which is neither read nor touched. stdout and stderr as bytes."""
    driver = DRIVER.format(root=ROOT, plant=textwrap.dedent(plant), argv=list(args))
    return subprocess.run([sys.executable, '-c', driver], cwd=cwd, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def settings_with(**overrides):
    """The lecture's settings (microgpt.settings) with some of them changed: the
    `config` every lecture function takes."""
    unknown = set(overrides) - set(vars(microgpt.settings))
    if unknown:
        raise TypeError(f'not settings of the lecture: {sorted(unknown)}')
    return SimpleNamespace(**{**vars(microgpt.settings), **overrides})


def model_shapes(vocab_size, config):
    """(name, rows, columns) of each matrix that init_state_dict() makes for a
    vocabulary size and settings, found without drawing a weight."""
    return [(name, rows, cols)
            for name, (rows, cols) in microgpt.model_shapes(vocab_size, config).items()]


def count_weights(vocab_size, config):
    """How many weights init_state_dict() makes for a vocabulary size and settings."""
    return sum(rows * cols for _, rows, cols in model_shapes(vocab_size, config))


def count_parameters(vocab_size, config):
    """How many weights parameters() gives training for such a model: those that
    main() reports as "num params" (the random generator is left as it was)."""
    state = random.getstate()
    try:
        return len(microgpt.parameters(microgpt.init_state_dict(vocab_size, config)))
    finally:
        random.setstate(state)


def record_run(model, docs, num_steps=20, **overrides):
    """Train and sample with the functions of `model` (microgpt or the plain
    oracle) in the order main() calls them, on microgpt.settings with
    `overrides`, and keep what main() only prints rounded: the loss and every
    gradient of each step, the final weights and the samples."""
    config = settings_with(num_steps=num_steps, **overrides)
    docs = list(docs)
    random.seed(config.seed)
    random.shuffle(docs)
    tokenizer = model.build_tokenizer(docs)
    state_dict = model.init_state_dict(tokenizer.vocab_size, config)
    params = model.parameters(state_dict)
    m, v = model.init_adam(params)
    losses, grads = [], []
    for step in range(config.num_steps):
        tokens = model.encode(docs[step % len(docs)], tokenizer)
        loss = model.doc_loss(tokens, state_dict, config)
        loss.backward()
        losses.append(loss.data)
        grads.append([p.grad for p in params])
        model.adam_step(params, m, v, step, config)
    samples = [model.sample(state_dict, tokenizer, config) for _ in range(config.num_samples)]
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


class ModelDiffers(AssertionError):
    """The failure of a faithful test: its first words say what it means."""
    whose, against, changed = "the model's", "the reference program's", 'the model'

    def __init__(self, detail=''):
        super().__init__(f'{self.whose} numbers differ from {self.against}: expected after a '
                         f'change to {self.changed}; {detail}')


class FaithfulTestCase(ExactTestCase):
    """A test that compares numbers with the reference program's outputs (or
    with the plain oracle's), bit for bit. After a change to the lecture's model
    such tests are meant to fail, and only they: every failure of theirs, of any
    assertion, starts by saying so, then names the first difference.

    A subclass says whose numbers are checked against whose, and what change
    would explain a difference; the defaults: the model's, against the
    reference program's, after a change to the model."""
    whose, against, changed = ModelDiffers.whose, ModelDiffers.against, ModelDiffers.changed

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.failureException = type('ModelDiffers', (ModelDiffers,), {
            'whose': cls.whose, 'against': cls.against, 'changed': cls.changed})


FaithfulTestCase.failureException = ModelDiffers


# A small dataset and a model tiny enough to train on it in moments, in this process
DOCS = ['anna', 'bob', 'carl', 'dave', 'emma', 'finn', 'gus', 'hana']
TINY_MODEL = ['--n_embd=4', '--n_head=1', '--block_size=8']
TINY = TINY_MODEL + ['--num_samples=2']


def text_of(docs):
    """A dataset's text: one document a line."""
    return ''.join(doc + '\n' for doc in docs)


def write_file(folder, name, content):
    """folder/name written with `content`, text (as UTF-8) or bytes: its path."""
    path = os.path.join(folder, name)
    with open(path, 'wb') as f:
        f.write(content.encode('utf-8') if isinstance(content, str) else content)
    return path


def folder_with_dataset(docs, add_cleanup):
    """A new temporary folder, removed by the cleanup it is given, holding names.txt with
    the documents `docs` unless they are None: (the folder, the dataset's path or None)."""
    tmp = tempfile.TemporaryDirectory()
    add_cleanup(tmp.cleanup)
    return tmp.name, None if docs is None else write_file(tmp.name, 'names.txt', text_of(docs))


def saved_checkpoint(*args, docs=DOCS, script=SCRIPT):
    """The text of the checkpoint that `script` saves when run with `args` on names.txt,
    a dataset of `docs`, in a folder of its own that is gone once it has run."""
    with tempfile.TemporaryDirectory() as folder:
        write_file(folder, 'names.txt', text_of(docs))
        result = run_script('--input', 'names.txt', *args, '--save', 'ck.json', script=script,
                            cwd=folder, timeout=60)
        assert result.returncode == 0, result.stderr
        with open(os.path.join(folder, 'ck.json'), encoding='utf-8') as f:
            return f.read()


def entries(root):
    """Every entry under root, by its path from root: its lstat() and its content (a
    digest of a regular file's bytes, a link's target, a device's number, else None),
    found without following links or opening anything but regular files."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, 'rb') as f:
                    content = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                content = st.st_rdev
            else:
                content = None
            found[os.path.relpath(path, root)] = st, content
    return found


class Folder(ExactTestCase):
    """A temporary folder for the tests of a class (tmp, and as a pathlib.Path, folder),
    gone after the last of them, holding a small dataset (names: its path; DATASET: its
    documents, None for an empty folder). With FOR_EACH_TEST, each test has a new folder
    of its own instead.

    assertRanWell() and assertRefused() read the (status, stdout, stderr) of run_main()."""
    DATASET = DOCS
    FOR_EACH_TEST = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.FOR_EACH_TEST:
            cls.tmp, cls.names = folder_with_dataset(cls.DATASET, cls.addClassCleanup)
            cls.folder = pathlib.Path(cls.tmp)

    def setUp(self):
        super().setUp()
        if self.FOR_EACH_TEST:
            self.tmp, self.names = folder_with_dataset(self.DATASET, self.addCleanup)
            self.folder = pathlib.Path(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, content):
        return write_file(self.tmp, name, content)

    def read_json(self, name):
        with open(self.path(name), encoding='utf-8') as f:
            return json.load(f)

    def assertRanWell(self, result):
        """Exit status 0 and nothing on stderr: stdout is returned."""
        status, stdout, stderr = result
        self.assertEqual((status, stderr), (0, ''), stdout[-300:])
        return stdout

    def assertRefused(self, result, *words):
        """Exit status 2 and one line of error on stderr holding each of `words`: the line."""
        status, _, stderr = result
        self.assertEqual(status, 2, stderr)
        self.assertTrue(stderr.startswith('microgpt.py: error:'), stderr)
        self.assertEqual(len(stderr.splitlines()), 1, stderr)
        for word in words:
            self.assertIn(word, stderr)
        return stderr

    def stopped(self, name, steps=5, stop_at=2):
        """A run of `steps` saving to `name`, stopped by Ctrl-C as step stop_at + 1 begins,
        so that stop_at steps are whole: its stderr, once it has exited as Ctrl-C makes it."""
        real, done = microgpt.train_step, []
        def train_step(*args):
            if len(done) == stop_at:
                raise KeyboardInterrupt
            done.append(args[1])
            return real(*args)
        with mock.patch.object(microgpt, 'train_step', side_effect=train_step):
            status, _, stderr = run_main('--input', self.names, *TINY, f'--num_steps={steps}',
                                         '--save', self.path(name))
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        return stderr


class CheckpointFolder(Folder):
    """A Folder with a checkpoint of STEPS steps of the tiny model, written there by
    main() (ck_path); its text (ck_text), and ck(): its JSON, a new copy each time."""
    STEPS = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ck_path = os.path.join(cls.tmp, 'ck.json')
        status, _, stderr = run_main('--input', cls.names, *TINY, f'--num_steps={cls.STEPS}',
                                     '--save', cls.ck_path)
        assert (status, stderr) == (0, ''), stderr
        with open(cls.ck_path, encoding='utf-8') as f:
            cls.ck_text = f.read()

    def ck(self):
        return json.loads(self.ck_text)

    def assertRefuses(self, function, argument, *words):
        """function(argument) refuses it, as the program refuses a checkpoint, in a reason
        that holds each of `words`: the reason."""
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            function(argument)
        for word in words:
            self.assertIn(word, str(caught.exception))
        return str(caught.exception)

    def assertRebuildRefuses(self, ck, *words):
        """rebuild() refuses the parsed checkpoint, in a reason that holds each of `words`."""
        self.assertRefuses(microgpt.rebuild, ck, *words)


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


# Where students run Python: what each place lacks, taken away before the script runs as
# __main__ (as IDLE's Run Module and Jupyter's %run run it)
PLACES = {
    # Windows: no SIGHUP, no signal masks, no resource limits, no sysconf, pathconf, uids
    'windows': '''
import os, signal
for module, name in ((signal, 'SIGHUP'), (signal, 'pthread_sigmask'), (os, 'sysconf'),
                     (os, 'pathconf'), (os, 'geteuid'), (os, 'getuid')):
    if hasattr(module, name):
        delattr(module, name)
sys.modules['resource'] = None
''',
    # IDLE: a stdout that writes text, with neither reconfigure() nor a file descriptor
    'idle': '''
import io
class Shell(io.TextIOBase):
    encoding = 'utf-8'
    def __init__(self, buffer):
        self.buffer_ = buffer
    def write(self, text):
        self.buffer_.write(text.encode('utf-8'))
        return len(text)
    def flush(self):
        self.buffer_.flush()
sys.stdout = Shell(sys.stdout.buffer)
''',
    # Python 3.14 and on: math's domain errors in other words than "math domain error"
    'python 3.14': '''
import math
def reworded(function):
    def call(*args):
        try:
            return function(*args)
        except ValueError:
            raise ValueError(f'expected a positive input, got {args[0]!r}') from None
    return call
for name in ('log', 'pow', 'sqrt', 'exp'):
    setattr(math, name, reworded(getattr(math, name)))
''',
}
PLACE_DRIVER = '''\
import runpy, sys
{place}
sys.argv = {argv!r}
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def run_in_place(place, *args, cwd=None):
    """The script as __main__ in a new interpreter, as it runs in `place` (a key of
    PLACES): its exit status, stdout as bytes, and stderr as text."""
    driver = PLACE_DRIVER.format(place=PLACES[place], argv=[SCRIPT, *args])
    result = subprocess.run([sys.executable, '-c', driver], cwd=cwd, timeout=600,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    return result.returncode, result.stdout, result.stderr.decode('utf-8', 'replace')
