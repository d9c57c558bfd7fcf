"""Nothing a run has learned is lost, and no run trains only to find that it cannot save.

1. A second stop signal while the first one's save is being written changes nothing:
   the run exits as the first signal stopped it, in its one line, and the file holds
   the step that line names; also for a resumed run that saves over its own checkpoint,
   and for a second signal that comes as the interpreter ends after the save. Two
   signals that arrive together stop the run as one of them, in one line.
2. A signal just after the last step (during the final save or the sampling) leaves
   the checkpoint of the last step, and no "*.part" file.
3. A --save name that cannot be written is refused before training: a link into a
   missing folder, a link into a folder without write permission, another user's
   file in a sticky folder; a long name that fits is saved; a relative name under a
   folder deeper than PATH_MAX is either refused before training or saved.
4. A checkpoint whose dataset is a FIFO, a file of /proc or a pipe on stdin is
   refused at once, in one line, when training goes on from it.
5. A seed of 31 digits is saved as that whole number and loads back.

Every run is a child process of the script in MICROGPT_SCRIPT (default: this
work tree's microgpt.py), so the same tests can be pointed at another version."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest
from types import SimpleNamespace

from tests.harness import (SCRIPT as WORK_TREE_SCRIPT, Folder, entries, saved_checkpoint,
                           seconds, unprivileged)

SCRIPT = os.path.abspath(os.environ.get('MICROGPT_SCRIPT') or WORK_TREE_SCRIPT)
DOCS = 'anna\nbob\ncarl\ndave\nemma\n'
SMALL = ['--n_embd=8', '--n_head=2', '--block_size=8']  # a run of moments
QUICK = SMALL + ['--num_steps=3', '--num_samples=2']
BIG = ['--n_embd=64', '--n_head=4', '--block_size=8']  # 51,200 weights: a save takes ~0.2 s
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ERROR = 'microgpt.py: error:'
STEP_LINE = re.compile(r'step +(\d+) / +(\d+) \| loss ')
SAVED_LINE = re.compile(r'microgpt\.py: interrupted(?: by (SIG[A-Z]+))?; '
                        r'step (\d+) of (\d+) is saved in (.*); go on with: ')


def text(data):
    return data.decode('utf-8', 'backslashreplace')


def default_stop_signals():
    """For a child process: the three stop signals as Python normally leaves them, even
    when these tests run with one of them ignored (under nohup, or by a CI runner)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def steps_printed(stdout):
    """The numbers of the progress lines a run printed, in order."""
    return [int(m.group(1)) for m in STEP_LINE.finditer(stdout)]


def snapshot(root):
    """Every entry under root: its kind, owner, mode and content (see entries())."""
    return {path: (st.st_mode, st.st_uid, content)
            for path, (st, content) in entries(root).items()}


def at_default(pid, signum):
    """Whether the process leaves signum to its default action, neither catching nor
    ignoring it (/proc/PID/status); None where /proc cannot tell, or the process is gone."""
    try:
        with open(f'/proc/{pid}/status') as f:
            masks = dict(line.split(':', 1) for line in f if line.startswith(('SigIgn', 'SigCgt')))
    except OSError:
        return None
    if len(masks) != 2:
        return None
    return not any(int(mask, 16) >> (signum - 1) & 1 for mask in masks.values())


class NothingLostTestCase(Folder):
    FOR_EACH_TEST, DATASET = True, DOCS.split()

    def parts(self, folder=None):
        """The "*.part" files left anywhere under the folder (the test's, by default)."""
        return [os.path.join(where, name) for where, _, files in os.walk(folder or self.tmp)
                for name in files if name.endswith('.part')]

    def run_here(self, *args, timeout=20, python=None, script=SCRIPT, preexec_fn=None,
                 stdin=subprocess.DEVNULL, cwd=None):
        """The script in this test's folder: its exit status, stdout and stderr."""
        try:
            result = subprocess.run([python or sys.executable, script, *args],
                                    cwd=cwd or self.tmp, timeout=timeout, stdin=stdin,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=preexec_fn)
        except subprocess.TimeoutExpired:
            self.fail(f'still running after {timeout} seconds: {args!r:.300}')
        return SimpleNamespace(status=result.returncode, stdout=text(result.stdout),
                               stderr=text(result.stderr))

    def start(self, *args):
        """The script started in this test's folder, its stdout unbuffered to be watched."""
        proc = subprocess.Popen([sys.executable, SCRIPT, *args], cwd=self.tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=default_stop_signals,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        self.addCleanup(self.end, proc)
        proc.seen = b''
        return proc

    def end(self, proc):  # a run that a failed test left running
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    def read_until(self, proc, done, timeout=30):
        """Reads the run's stdout until done(all read so far) holds."""
        deadline = time.monotonic() + timeout
        while not done(text(proc.seen)):
            ready = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
            chunk = os.read(proc.stdout.fileno(), 65536) if ready[0] else b''
            self.assertTrue(chunk, f'the run ended or hung first; it printed {proc.seen[-300:]!r}')
            proc.seen += chunk

    def finish(self, proc, timeout=30):
        """(exit status, whole stdout, stderr) of a started run."""
        try:
            rest, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f'still running {timeout} seconds after it was stopped')
        return proc.returncode, text(proc.seen + rest), text(err)

    def wait_until_stopped(self, proc, longest=5):
        """Waits until SIGSTOP has stopped the run (state T in /proc; where /proc cannot
        tell, a tenth of a second), so that signals sent now wait for SIGCONT together."""
        deadline = time.monotonic() + longest
        while time.monotonic() < deadline:
            try:
                with open(f'/proc/{proc.pid}/stat') as f:
                    state = f.read().rsplit(')', 1)[1].split()[0]
            except (OSError, IndexError):
                time.sleep(0.1)
                return
            if state in ('T', 't'):
                return
            time.sleep(0.001)
        self.fail(f'SIGSTOP did not stop the run in {longest} seconds')

    def assertOneLine(self, stderr):
        self.assertNotIn('Traceback', stderr, stderr[-2000:])
        self.assertTrue(stderr.endswith('\n') and len(stderr.splitlines()) == 1,
                        f'not one line on stderr: {stderr[-2000:]!r}')
        return stderr[:-1]

    def assertSavedLine(self, stderr, signum, save):
        """The run's one line says it was interrupted by signum and names the step saved
        in `save`; that step is returned, with the run's number of steps."""
        line = self.assertOneLine(stderr)
        found = SAVED_LINE.match(line)
        self.assertTrue(found, f'not the line of a saved interruption: {line!r}')
        name = None if signum == signal.SIGINT else signal.Signals(signum).name
        self.assertEqual(found.group(1), name, f'the signal named: {line!r}')
        self.assertEqual(found.group(4), save, line)
        return int(found.group(2)), int(found.group(3))

    def assertRefusedBeforeTraining(self, result, before, folder=None):
        """Exit status 2, one line on stderr, nothing on stdout, every file as it was."""
        self.assertEqual(result.status, 2, f'exit status; stderr: {result.stderr[-1000:]!r}')
        line = self.assertOneLine(result.stderr)
        self.assertTrue(line.startswith(ERROR), line)
        self.assertEqual(steps_printed(result.stdout), [], 'it trained')
        self.assertEqual(result.stdout, '')
        self.assertEqual(snapshot(folder or self.tmp), before, 'the files in the folder changed')
        return line


# 1. A second signal while the first one's save is being written

class ASecondSignal(NothingLostTestCase):
    MOMENTS = (0, 0.01, 0.05, 0.2)  # seconds after the first signal; its save takes ~0.2 s
    # SIGINT first, or one signal twice: signals that come before the run has taken the
    # first reach its handlers together, in the order of their numbers, SIGINT's first
    # (SIGTERM then SIGINT is the test of signals together). At moment 0 the second may
    # also come as the first is being taken, and CPython runs the second's handler
    # first then: either signal may stop the run, as when both come together
    PAIRS = ((signal.SIGINT, signal.SIGINT), (signal.SIGINT, signal.SIGTERM),
             (signal.SIGTERM, signal.SIGTERM))

    def stopped_twice(self, args, save, first, second, moment):
        """A run stopped by `first` once it has printed two steps, and sent `second`
        `moment` seconds later: (exit status, stdout, stderr)."""
        proc = self.start(*args, '--save', save)
        self.read_until(proc, lambda out: len(steps_printed(out)) >= 2)
        proc.send_signal(first)
        time.sleep(moment)
        proc.send_signal(second)
        return self.finish(proc)

    def assertSavedAsItSays(self, result, save, *stoppers):
        """The run exited as one of `stoppers` stops it, in a line naming a step that the
        file holds: the last step printed, or the one before it (were its line shown
        before its checkpoint was made); that step is returned."""
        status, stdout, stderr = result
        self.assertIn(status, [128 + signum for signum in stoppers],
                      f'exit status; stderr: {stderr[-2000:]!r}')
        stopper = signal.Signals(status - 128)
        step, _ = self.assertSavedLine(stderr, stopper, save)
        self.assertEqual(self.read_json(save)['step'], step, 'the step in the file')
        printed = steps_printed(stdout)
        self.assertIn(step, (printed[-1] - 1, printed[-1]), f'saved {step}; printed {printed}')
        self.assertEqual(self.parts(), [])
        return step

    @seconds
    def test_a_second_signal_while_the_save_is_written_changes_nothing(self):
        for first, second in self.PAIRS:
            for moment in self.MOMENTS:
                with self.subTest(first=first.name, second=second.name, moment=moment):
                    if os.path.exists(self.path('ck.json')):  # a new run each time
                        os.remove(self.path('ck.json'))
                    result = self.stopped_twice(['--input', 'names.txt', *BIG, '--num_steps=30',
                                                 '--num_samples=1'], 'ck.json', first, second,
                                                moment)
                    self.assertSavedAsItSays(result, 'ck.json', first,
                                             *([second] if moment == 0 else []))

    @seconds
    def test_a_resumed_run_saving_over_its_checkpoint_stopped_twice_holds_the_step_it_names(self):
        args = ['--input', 'names.txt', *BIG, '--num_steps=30', '--num_samples=1']
        result = self.stopped_twice(args, 'r2.json', signal.SIGINT, signal.SIGTERM, 0.01)
        reached = self.assertSavedAsItSays(result, 'r2.json', signal.SIGINT)
        result = self.stopped_twice(['--load', 'r2.json', '--num_samples=1'], 'r2.json',
                                    signal.SIGTERM, signal.SIGTERM, 0.01)
        step = self.assertSavedAsItSays(result, 'r2.json', signal.SIGTERM)
        self.assertGreater(step, reached, 'the resumed run saved no step of its own')

    def test_a_second_signal_as_the_run_exits_after_its_save_leaves_the_exit_status(self):
        # the line is out and the save done: the interpreter is ending, and frees the run;
        # 'handlers gone': as soon as SIGINT is at its default action (which CPython
        # restores as it ends) where /proc tells, else as soon as the run has ended
        for moment in (0.001, 0.005, 'handlers gone'):
            with self.subTest(moment=moment):
                proc = self.start('--input', 'names.txt', *SMALL, '--num_steps=100000',
                                  '--num_samples=1', '--save', 'ck.json')
                self.read_until(proc, lambda out: len(steps_printed(out)) >= 2)
                proc.send_signal(signal.SIGTERM)
                err, deadline = b'', time.monotonic() + 30
                while not err.endswith(b'\n'):
                    ready = select.select([proc.stderr], [], [],
                                          max(0, deadline - time.monotonic()))
                    chunk = os.read(proc.stderr.fileno(), 65536) if ready[0] else b''
                    self.assertTrue(chunk, f'the run ended or hung before its line: {err!r}')
                    err += chunk
                if moment == 'handlers gone':
                    while (at_default(proc.pid, signal.SIGINT) is False and proc.poll() is None
                           and time.monotonic() < deadline):
                        pass
                else:
                    time.sleep(moment)
                proc.send_signal(signal.SIGINT)
                status, _, rest = self.finish(proc)
                self.assertEqual(status, 128 + signal.SIGTERM,
                                 'exit status (below 0: killed by the second signal)')
                step, _ = self.assertSavedLine(text(err) + rest, signal.SIGTERM, 'ck.json')
                self.assertEqual(self.read_json('ck.json')['step'], step)

    def test_two_signals_that_arrive_together_stop_the_run_as_one_in_one_line(self):
        # both arrive while the run is stopped (as when it is not scheduled between the
        # two kill() calls): the kernel hands them over together, in its own order
        for first, second in ((signal.SIGTERM, signal.SIGINT), (signal.SIGINT, signal.SIGHUP)):
            with self.subTest(first=first.name, second=second.name):
                proc = self.start('--input', 'names.txt', *SMALL, '--num_steps=100000',
                                  '--num_samples=1', '--save', 'ck.json')
                self.read_until(proc, lambda out: len(steps_printed(out)) >= 2)
                proc.send_signal(signal.SIGSTOP)
                self.wait_until_stopped(proc)
                proc.send_signal(first)
                proc.send_signal(second)
                proc.send_signal(signal.SIGCONT)
                status, _, stderr = self.finish(proc)
                self.assertIn(status, (128 + first, 128 + second), stderr[-2000:])
                step, _ = self.assertSavedLine(stderr, status - 128, 'ck.json')
                self.assertEqual(self.read_json('ck.json')['step'], step)


# 2. A signal just after the last step

# runs the script with print() watched: as the line that starts with STOP_AT has been
# printed, the run sends itself STOP_SIGNAL, which it takes before its next line of code
STOP_AS_PRINTED = '''\
import builtins, os, runpy, sys
real_print = builtins.print
def print(*args, **kwargs):
    real_print(*args, **kwargs)
    if args and str(args[0]).startswith(os.environ['STOP_AT']):
        os.kill(os.getpid(), int(os.environ['STOP_SIGNAL']))
builtins.print = print
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


class ASignalAfterTheLastStep(NothingLostTestCase):
    def assertLastStepKept(self, status, stderr, num_steps, signum):
        """The file holds the last step; a line that says what is saved names it."""
        self.assertIn(status, (0, 128 + signum, -signum), f'exit status; stderr: {stderr!r}')
        if 'is saved' in stderr:
            step, _ = self.assertSavedLine(stderr, signum, 'ck.json')
            self.assertEqual(self.read_json('ck.json')['step'], step, 'the step in the file')
        elif stderr:
            self.assertEqual(self.assertOneLine(stderr), 'microgpt.py: interrupted'
                             + ('' if signum == signal.SIGINT else
                                f' by {signal.Signals(signum).name}'))
        self.assertEqual(self.read_json('ck.json')['step'], num_steps, stderr)
        self.assertEqual(self.parts(), [])

    @seconds
    def test_a_signal_at_any_moment_after_the_last_step_line_keeps_the_last_step(self):
        # the final checkpoint, the save (its writing blocks signals), the sampling, the exit
        for signum in (signal.SIGINT, signal.SIGTERM):
            for moment in (0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4):
                with self.subTest(signal=signum.name, moment=moment):
                    if os.path.exists(self.path('ck.json')):  # a new run each time
                        os.remove(self.path('ck.json'))
                    proc = self.start('--input', 'names.txt', *BIG, '--num_steps=3',
                                      '--num_samples=5', '--save', 'ck.json')
                    self.read_until(proc, lambda out: 'step    3 /    3' in out)
                    time.sleep(moment)
                    proc.send_signal(signum)
                    status, _, stderr = self.finish(proc)
                    self.assertLastStepKept(status, stderr, 3, signum)

    def test_a_signal_as_the_last_step_line_is_printed_keeps_the_last_step(self):
        self.write('stop_as_printed.py', STOP_AS_PRINTED)
        for signum in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=signum.name):
                result = subprocess.run(
                    [sys.executable, self.path('stop_as_printed.py'), SCRIPT, '--input',
                     'names.txt', *QUICK, '--save', 'ck.json'],
                    cwd=self.tmp, timeout=30, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, preexec_fn=default_stop_signals,
                    env=dict(os.environ, STOP_AT='step    3 /    3', STOP_SIGNAL=str(int(signum))))
                self.assertEqual(steps_printed(text(result.stdout)), [1, 2, 3])
                self.assertLastStepKept(result.returncode, text(result.stderr), 3, signum)


# 3. --save names that cannot be written are refused before training

class SaveNames(NothingLostTestCase):
    def as_user(self):
        """(python, preexec_fn, script) to run the script as a user without root's power,
        the script copied where that user can read it; the test is skipped without one."""
        user = unprivileged()
        if user is None:
            self.skipTest('no unprivileged user can be arranged here')
        os.chmod(self.tmp, 0o755)
        return user[0], user[1], shutil.copy(SCRIPT, self.path('microgpt.py'))

    def test_a_dangling_link_into_a_missing_folder_is_refused_before_training(self):
        os.symlink(os.path.join('missing', 'folder', 'ck.json'), self.path('link.json'))
        before = snapshot(self.tmp)
        result = self.run_here('--input', 'names.txt', *QUICK, '--save', 'link.json')
        self.assertRefusedBeforeTraining(result, before)
        self.assertFalse(os.path.exists(self.path('missing')))

    def test_a_link_into_a_folder_without_write_permission_is_refused_before_training(self):
        python, preexec_fn, script = self.as_user()
        os.mkdir(self.path('locked'))
        os.chmod(self.path('locked'), 0o555)
        os.mkdir(self.path('open'))
        os.chmod(self.path('open'), 0o777)  # the link's own folder may be written
        os.symlink(self.path(os.path.join('locked', 'ck.json')),
                   self.path(os.path.join('open', 'link.json')))
        before = snapshot(self.tmp)
        result = self.run_here('--input', 'names.txt', *QUICK, '--save', 'open/link.json',
                               python=python, script=script, preexec_fn=preexec_fn)
        line = self.assertRefusedBeforeTraining(result, before)
        self.assertIn('Permission denied', line)

    def test_a_name_of_249_bytes_in_82_cjk_characters_trains_and_saves(self):
        name = '字' * 82 + '.js'
        self.assertEqual((len(name) - 3, len(os.fsencode(name))), (82, 249))
        result = self.run_here('--input', 'names.txt', *QUICK, '--save', name)
        self.assertEqual((result.status, result.stderr), (0, ''))
        self.assertEqual(steps_printed(result.stdout), [1, 2, 3])
        self.assertEqual(self.read_json(name)['step'], 3)
        self.assertEqual(self.parts(), [])
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(['names.txt', name]))

    def test_another_users_checkpoint_in_a_sticky_folder_ends_kept_whole_beside_it(self):
        # a sticky folder (/tmp) lets only a file's owner replace it: the run trains, the
        # rename at the end is refused, and the run stays whole in the temporary file
        if os.geteuid() != 0:
            self.skipTest('giving a file to another user takes root')
        python, preexec_fn, script = self.as_user()
        runner = int(subprocess.run([python, '-c', 'import os; print(os.geteuid())'],
                                    preexec_fn=preexec_fn, stdout=subprocess.PIPE,
                                    timeout=60).stdout)
        if runner == 0:
            self.skipTest('the unprivileged user is root')
        other = 4242 if runner != 4242 else 4243  # neither root nor the runner
        os.mkdir(self.path('sticky'))
        os.chmod(self.path('sticky'), 0o1777)
        made = self.run_here('--input', 'names.txt', *QUICK, '--save', 'sticky/ck.json')
        self.assertEqual((made.status, made.stderr), (0, ''))
        os.chown(self.path('sticky/ck.json'), other, other)
        os.chmod(self.path('sticky/ck.json'), 0o644)
        before = self.read_json('sticky/ck.json')
        result = self.run_here('--input', 'names.txt', *QUICK, '--seed=7', '--save',
                               'sticky/ck.json', python=python, script=script,
                               preexec_fn=preexec_fn)
        [part] = self.parts()
        self.assertEqual(result.status, 1, result.stderr)
        self.assertEqual(result.stderr.splitlines(), [result.stderr.strip()])
        self.assertIn(part, result.stderr)
        self.assertEqual(self.read_json('sticky/ck.json'), before)
        self.assertEqual(self.read_json(part)['settings']['seed'], 7)

    def test_a_relative_name_deeper_than_path_max_is_refused_before_training_or_saved(self):
        path_max = os.pathconf(self.tmp, 'PC_PATH_MAX') if hasattr(os, 'pathconf') else 4096
        name_max = min(os.pathconf(self.tmp, 'PC_NAME_MAX'), 250)
        # a folder too deep for any absolute name of it: made and entered through fds
        fd, depth = os.open(self.tmp, os.O_RDONLY), 0
        self.addCleanup(lambda: os.close(fd))
        while len(self.tmp) + depth * (name_max + 1) <= path_max:
            os.mkdir('d' * name_max, dir_fd=fd)
            inner = os.open('d' * name_max, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, depth = inner, depth + 1
        result = self.run_here('--input', self.path('names.txt'), *QUICK, '--save', 'ck.json',
                               preexec_fn=lambda: os.fchdir(fd), cwd=self.tmp)
        if result.status == 2:  # refused: before training, in one line, nothing written
            self.assertTrue(self.assertOneLine(result.stderr).startswith(ERROR), result.stderr)
            self.assertEqual(result.stdout, '')
            self.assertEqual(os.listdir(fd), [])
        else:  # or saved where it was asked to be
            self.assertEqual((result.status, result.stderr), (0, ''),
                             'trained, then could not save')
            self.assertEqual(os.listdir(fd), ['ck.json'])
            with open(os.open('ck.json', os.O_RDONLY, dir_fd=fd), encoding='utf-8') as f:
                self.assertEqual(json.load(f)['step'], 3)


# 4. A checkpoint that names a dataset that is no regular file

class TheTryOfASaveName(NothingLostTestCase):
    # the run is stopped as the try makes its temporary file, by a wrapper around mkstemp
    STOPPED_IN_THE_TRY = """
import os, runpy, signal, sys, tempfile
real = tempfile.mkstemp
def mkstemp(*args, **kwargs):
    made = real(*args, **kwargs)
    tempfile.mkstemp = real
    os.kill(os.getpid(), signal.SIGINT)
    return made
tempfile.mkstemp = mkstemp
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""

    def test_a_signal_while_the_save_name_is_tried_leaves_no_file(self):
        self.write('stop.py', self.STOPPED_IN_THE_TRY)
        result = self.run_here(SCRIPT, '--input', 'names.txt', *QUICK, '--save', 'ck.json',
                               script=self.path('stop.py'), preexec_fn=default_stop_signals)
        self.assertEqual(result.status, 128 + signal.SIGINT, result.stderr)
        self.assertEqual(sorted(os.listdir(self.tmp)), ['names.txt', 'stop.py'])

    def test_a_relative_name_in_a_current_folder_that_is_gone_is_refused_before_training(self):
        gone = self.path('gone')
        os.mkdir(gone)
        def enter_and_remove():
            os.chdir(gone)
            os.rmdir(gone)
        result = self.run_here('--input', self.path('names.txt'), *QUICK, '--save', 'ck.json',
                               preexec_fn=enter_and_remove)
        self.assertEqual(result.status, 2, result.stderr)
        self.assertEqual(result.stderr.splitlines(), ['microgpt.py: error: --save ck.json cannot '
                                                      'be written (No such file or directory); '
                                                      'name another file'])
        self.assertEqual(result.stdout, '')


class ADatasetAsTheCheckpointNamesIt(NothingLostTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.checkpoint = json.loads(saved_checkpoint(*QUICK, docs=cls.DATASET, script=SCRIPT))

    def assertRefusedAtOnce(self, dataset, stdin=subprocess.DEVNULL):
        ck = json.loads(json.dumps(self.checkpoint))
        ck['dataset']['path'] = dataset
        ck['settings']['num_steps'] += 2  # steps left: training goes on, on that dataset
        self.write('ck.json', json.dumps(ck))
        result = self.run_here('--load', 'ck.json', timeout=20, stdin=stdin)
        self.assertEqual(result.status, 2, f'exit status; stderr: {result.stderr[-1000:]!r}')
        line = self.assertOneLine(result.stderr)
        self.assertTrue(line.startswith(ERROR), line)
        self.assertIn(dataset, line)
        self.assertEqual(steps_printed(result.stdout), [])
        return line

    def test_a_fifo_is_refused_at_once(self):
        os.mkfifo(self.path('fifo'))
        self.assertIn('not a regular file', self.assertRefusedAtOnce(self.path('fifo')))

    def test_a_file_of_proc_is_refused_at_once(self):
        if not os.path.exists('/proc/self/status'):
            self.skipTest('no /proc here')
        self.assertRefusedAtOnce('/proc/self/status')

    def test_dev_stdin_on_a_pipe_is_refused_at_once(self):
        if not os.path.exists('/dev/stdin'):
            self.skipTest('no /dev/stdin here')
        reading, writing = os.pipe()  # the write end stays open: a read would wait forever
        try:
            line = self.assertRefusedAtOnce('/dev/stdin', stdin=reading)
        finally:
            os.close(reading)
            os.close(writing)
        self.assertIn('not a regular file', line)


# 5. A seed of 31 digits

class ALongSeed(NothingLostTestCase):
    def test_a_seed_of_31_digits_is_saved_as_that_number_and_loads(self):
        seed = 10**30 + 12345
        self.assertEqual(len(str(seed)), 31)
        result = self.run_here('--input', 'names.txt', *QUICK, f'--seed={seed}',
                               '--save', 'ck.json')
        self.assertEqual((result.status, result.stderr), (0, ''))
        saved = self.read_json('ck.json')['settings']['seed']
        self.assertEqual((type(saved), saved), (int, seed))
        loaded = self.run_here('--load', 'ck.json', '--num_steps=0', '--num_samples=2')
        self.assertEqual((loaded.status, loaded.stderr), (0, ''))
        samples = [line for line in result.stdout.splitlines() if line.startswith('sample ')]
        self.assertEqual(len(samples), 2, result.stdout)  # the same, drawn from the same state
        self.assertEqual([line for line in loaded.stdout.splitlines()
                          if line.startswith('sample ')], samples)


if __name__ == '__main__':
    unittest.main()
