"""Checkpoints are safe to write, safe to read and safe to resume from.

1. --save FILE writes only what it was asked to: a new file, or a checkpoint that
   --load would take, never the dataset or anything else; refusals come before
   the first step, in one line, with every file left as it was.
2. A checkpoint is data: a broken one is refused in one short line, and reading
   it never writes, runs or sets anything but the recorded run settings.
3. Saving keeps every string exactly.
4. The "go on with: ..." command printed on an interruption works when pasted,
   whatever the names and options, and the resumed run ends exactly as one that
   was never interrupted.
5. SIGTERM and SIGHUP save a --save run as Ctrl-C does.
6. The same input gets the same answer on every interpreter.

Every run is a child process of the script in MICROGPT_SCRIPT (default: this
work tree's microgpt.py), so the same tests can be pointed at another version."""
import ast
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import microgpt
from tests.harness import (Folder, default_sigint, entries, run_script, saved_checkpoint,
                           seconds)

SCRIPT = os.path.abspath(os.environ.get('MICROGPT_SCRIPT') or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'microgpt.py'))
SMALL = ['--n_embd=8', '--n_head=2', '--block_size=8']
QUICK = SMALL + ['--num_steps=3', '--num_samples=2']  # a run of moments
LONG = SMALL + ['--num_steps=30', '--num_samples=3']  # long enough to interrupt
DOCS = 'anna\nbob\ncarl\ndave\nemma\n'
ERROR = 'microgpt.py: error:'


def text(data):
    return data.decode('utf-8', 'backslashreplace')


def snapshot(root):
    """Every entry under root: its kind and its content (see entries())."""
    return {path: (stat.S_IFMT(st.st_mode), content)
            for path, (st, content) in entries(root).items()}


def last_step_and_samples(stdout):
    """The last progress line and every sample line of a run's output."""
    lines = stdout.replace('\r', '\n').splitlines()
    steps = [line for line in lines if line.startswith('step')]
    return steps[-1:] + [line for line in lines if line.startswith('sample')]


def settings_of(ck):  # the run settings of a checkpoint (version 1 called them "run")
    return ck['settings'] if 'settings' in ck else ck['run']


class SafetyTestCase(Folder):
    FOR_EACH_TEST, DATASET = True, DOCS.split()

    def run_here(self, *args, timeout=20, preexec_fn=None):
        """The script in this test's folder: (status, stdout, stderr, seconds taken)."""
        start = time.monotonic()
        try:
            if preexec_fn is None:
                result = run_script(*args, script=SCRIPT, cwd=self.tmp, timeout=timeout)
            else:
                result = subprocess.run([sys.executable, SCRIPT, *args], cwd=self.tmp,
                                        timeout=timeout, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        preexec_fn=preexec_fn)
        except subprocess.TimeoutExpired:
            self.fail(f'still running after {timeout} seconds: {args!r:.200}')
        return (result.returncode, text(result.stdout), text(result.stderr),
                time.monotonic() - start)

    def assertOneErrorLine(self, stderr):
        self.assertNotIn('Traceback', stderr, stderr[-1000:])
        self.assertTrue(stderr.startswith(ERROR), f'stderr: {stderr[:500]!r}')
        self.assertTrue(stderr.endswith('\n') and len(stderr.splitlines()) == 1,
                        f'not one line on stderr: {stderr[:500]!r}')
        return stderr[:-1]

    def assertRefused(self, result, before, status=2, quiet=True):
        """Refused in one line with `status`, before printing anything (if quiet),
        with every file under the test's folder as it was; the line is returned."""
        got, stdout, stderr, _ = result
        self.assertEqual(got, status, f'exit status; stderr: {stderr[-500:]!r}')
        line = self.assertOneErrorLine(stderr)
        if quiet:
            self.assertEqual(stdout, '')
        self.assertEqual(snapshot(self.tmp), before, 'the files in the folder changed')
        return line


# 1. --save writes only what it was asked to write

def make_device(folder):  # a copy of /dev/null (only root may make one)
    if os.geteuid() != 0:
        raise unittest.SkipTest('making a device takes root')
    os.mknod(os.path.join(folder, 'null'), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return 'null'


def make_fifo(folder):
    os.mkfifo(os.path.join(folder, 'fifo'))
    return 'fifo'


def make_folder(folder):
    os.mkdir(os.path.join(folder, 'folder'))
    return 'folder'


def make_notes(folder):
    with open(os.path.join(folder, 'notes.txt'), 'w') as f:
        f.write('# microgpt checkpoint notes\nlearning_rate 0.01 was best\n')
    return 'notes.txt'


def make_not_quite_checkpoint(folder):  # parses as JSON, but --load would refuse it
    with open(os.path.join(folder, 'cut.json'), 'w') as f:
        f.write('{"format": "microgpt checkpoint", "version": 2}\n')
    return 'cut.json'


class SaveWritesOnlyWhatItMay(SafetyTestCase):
    SAVE_REFUSED = [  # (what FILE is, how to make it in a folder -> the --save argument)
        ('a character device (a copy of /dev/null)', make_device),
        ('a FIFO', make_fifo),
        ('a directory', make_folder),
        ('an empty name', lambda folder: ''),
        ('a name longer than the system allows', lambda folder: 'x' * 300 + '.json'),
        ('a file in a folder that does not exist', lambda folder: os.path.join('newdir', 'x.json')),
        ('a name that ends in a slash: a folder, not a file', lambda folder: 'newdir' + os.sep),
        ('the folder itself', lambda folder: '.'),
        ('a text file whose first bytes mention "microgpt checkpoint"', make_notes),
        ('JSON that says it is a checkpoint and is not one', make_not_quite_checkpoint),
        ('the dataset', lambda folder: 'names.txt'),
    ]

    def test_save_refuses_every_file_but_a_new_one_or_a_checkpoint(self):
        for case, make in self.SAVE_REFUSED:
            with self.subTest(case), tempfile.TemporaryDirectory() as folder:
                self.tmp = folder
                self.write('names.txt', DOCS)
                save = make(folder)
                before = snapshot(folder)
                self.assertRefused(self.run_here('--input', 'names.txt', *QUICK, '--save', save,
                                                 timeout=10), before)

    def test_save_refuses_the_dataset_even_when_it_reads_as_a_checkpoint(self):
        self.assertEqual(self.run_here('--input', 'names.txt', *QUICK, '--save', 'ck.json')[0], 0)
        before = snapshot(self.tmp)
        line = self.assertRefused(self.run_here('--input', './ck.json', *QUICK,
                                                '--save', 'ck.json'), before)
        self.assertIn('dataset', line)

    def test_load_refuses_an_empty_name(self):
        before = snapshot(self.tmp)
        self.assertRefused(self.run_here('--input', 'names.txt', *QUICK, '--load', ''), before)

    def test_save_replaces_an_earlier_checkpoint(self):
        self.assertEqual(self.run_here('--input', 'names.txt', *QUICK, '--save', 'ck.json')[0], 0)
        status, _, stderr, _ = self.run_here('--input', 'names.txt', *SMALL, '--num_steps=4',
                                             '--num_samples=2', '--save', 'ck.json')
        self.assertEqual((status, stderr), (0, ''))
        self.assertEqual(self.read_json('ck.json')['step'], 4)
        self.assertEqual(sorted(os.listdir(self.tmp)), ['ck.json', 'names.txt'])

    def test_the_checkpoint_is_renamed_into_place_from_a_part_file_named_after_it(self):
        # a wrapper that runs the script with os.replace watched: what was renamed, and
        # whether the file renamed was the whole checkpoint already
        self.write('watch.py', (
            'import os, runpy, sys\n'
            'real = os.replace\n'
            'def replace(src, dst, *args, **kwargs):\n'
            '    with open(src, "rb") as f:\n'
            '        size = len(f.read())\n'
            '    with open(os.environ["REPLACE_LOG"], "a") as log:\n'
            '        print(repr((os.fspath(src), os.fspath(dst), size)), file=log)\n'
            '    return real(src, dst, *args, **kwargs)\n'
            'os.replace = replace\n'
            'sys.argv = sys.argv[1:]\n'
            'runpy.run_path(sys.argv[0], run_name="__main__")\n'))
        os.mkdir(self.path('sub'))
        log = self.path('replace.log')
        result = subprocess.run([sys.executable, self.path('watch.py'), SCRIPT, '--input',
                                 'names.txt', *QUICK, '--save', os.path.join('sub', 'model.json')],
                                cwd=self.tmp, env=dict(os.environ, REPLACE_LOG=log),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual((result.returncode, result.stderr), (0, b''))
        with open(log) as f:
            calls = [ast.literal_eval(line) for line in f]
        self.assertEqual(len(calls), 1, calls)
        src, dst, size = calls[0]
        folder = os.path.realpath(self.path('sub'))
        self.assertEqual(os.path.dirname(os.path.realpath(src)), folder)
        self.assertRegex(os.path.basename(src), r'^microgpt-\w+\.part$')  # short, so it fits
        self.assertEqual(os.path.realpath(os.path.join(self.tmp, dst)),
                         os.path.join(folder, 'model.json'))
        self.assertEqual(size, os.path.getsize(self.path(os.path.join('sub', 'model.json'))))
        self.assertEqual(os.listdir(self.path('sub')), ['model.json'])


# 2. A checkpoint is data

PLACE = '@@raw@@'  # stands in the JSON for text that json.dumps could not write


def put(where, key, value):
    where[key] = value


def entry(key, value):  # value may be a function of the test's folder
    return lambda ck, folder: put(ck, key, value(folder) if callable(value) else value)


def vocab(change):
    return lambda ck, folder: put(ck, 'vocab', change(ck['vocab']))


def setting(name, value):
    return lambda ck, folder: put(settings_of(ck), name, value(folder) if callable(value) else value)


def weight(value):
    return lambda ck, folder: put(next(iter(ck['state_dict'].values()))[0], 0, value)


def swap_a_for_capital_a(ck, folder):  # and more steps to go, so that training goes on
    ck['vocab'] = ck['vocab'].replace('a', 'A')
    settings_of(ck)['num_steps'] = 6


def nested(depth):
    return '[' * depth + ']' * depth


class ACheckpointIsData(SafetyTestCase):
    BROKEN = [  # (what is wrong, how to break the checkpoint, raw JSON text put at PLACE)
        ('an unknown entry "save"', entry('save', lambda folder: os.path.join(folder, 'x')), None),
        ('an unknown setting "save"', setting('save', lambda folder: os.path.join(folder, 'x')), None),
        ('temperature 0 in the settings', setting('temperature', 0), None),
        ('num_samples 10**12 in the settings', setting('num_samples', 10**12), None),
        ('prompt [1, 2] in the settings', setting('prompt', [1, 2]), None),
        ('n_layer 0', setting('n_layer', 0), None),
        ('n_layer "2"', setting('n_layer', '2'), None),
        ('n_layer true', setting('n_layer', True), None),
        ('learning_rate 0', setting('learning_rate', 0), None),
        ('learning_rate -1', setting('learning_rate', -1), None),
        ("a vocabulary with 'A' for 'a', training going on", swap_a_for_capital_a, None),
        ('a vocabulary with a duplicate', vocab(lambda v: v[0] + v[0] + v[2:]), None),
        ('a vocabulary with a line break', vocab(lambda v: '\n' + v[1:]), None),
        ('a vocabulary with a lone surrogate', vocab(lambda v: v[:-1] + '\ud800'), None),
        ('an unsorted vocabulary', vocab(lambda v: v[::-1]), None),
        ('losses nested 1,000 deep', entry('losses', PLACE), nested(1000)),
        ('random_state nested 100,000 deep', entry('random_state', PLACE), nested(100000)),
        ('step 10**400', entry('step', PLACE), '1' + '0' * 400),
        ('a weight of 5,000 digits', weight(PLACE), '7' * 5000),
        ('version "banana"', entry('version', 'banana'), None),
        ('version 99', entry('version', 99), None),
        ('num_docs -5', lambda ck, folder: put(ck['dataset'], 'num_docs', -5), None),
        ('a 10 MB string for a weight', weight('x' * 10**7), None),
        ('NaN for a weight', weight(PLACE), 'NaN'),
        ('Infinity for a weight', weight(PLACE), 'Infinity'),
        ('1e400 for a weight', weight(PLACE), '1e400'),
        ('a weight as a string', weight('0.1'), None),
    ]
    MUST_SAY = {'step 10**400': 'step'}  # the line names what is wrong

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.checkpoint = saved_checkpoint(*QUICK, docs=cls.DATASET, script=SCRIPT)

    def write_checkpoint(self, name, change=None, raw=None):
        """The real checkpoint, its dataset here, changed; raw replaces PLACE in the text."""
        ck = json.loads(self.checkpoint)
        ck['dataset']['path'] = self.path('names.txt')
        if change:
            change(ck, self.tmp)
        content = json.dumps(ck, indent=1)
        if raw is not None:
            content = content.replace(json.dumps(PLACE), raw, 1)
        self.write(name, content)

    def assertCheckpointRefused(self, result, before, load='ck.json'):
        line = self.assertRefused(result, before)
        self.assertIn(load, line, 'the line names the checkpoint')
        self.assertLess(len(line), 300, 'the line is short')
        for word in ('diverged', 'set_int_max_str_digits', 'Error'):
            self.assertNotIn(word, line)
        return line

    @seconds
    def test_a_broken_checkpoint_is_refused_in_one_short_line(self):
        for case, change, raw in self.BROKEN:
            with self.subTest(case), tempfile.TemporaryDirectory() as folder:
                self.tmp = folder
                self.write('names.txt', DOCS)
                self.write_checkpoint('ck.json', change, raw)
                before = snapshot(folder)
                line = self.assertCheckpointRefused(self.run_here('--load', 'ck.json', timeout=10),
                                                    before)
                if case in self.MUST_SAY:
                    self.assertIn(self.MUST_SAY[case], line)

    def test_the_unbroken_checkpoint_is_taken(self):  # so that the table tests what it says
        self.write_checkpoint('ck.json')
        status, stdout, stderr, _ = self.run_here('--load', 'ck.json')
        self.assertEqual((status, stderr), (0, ''))
        self.assertIn('--- inference', stdout)

    def test_load_refuses_a_device_at_once(self):
        four_gib = 4 * 2**30  # were it read, the limit stops it before the memory runs out

        def limit_memory():
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (four_gib, four_gib))
        before = snapshot(self.tmp)
        result = self.run_here('--load', '/dev/zero', timeout=5, preexec_fn=limit_memory)
        self.assertCheckpointRefused(result, before, load='/dev/zero')
        self.assertLess(result[3], 3, 'seconds to refuse')

    def test_adam_buffers_far_too_long_are_refused_before_they_are_converted(self):
        self.write_checkpoint('ck.json', lambda ck, folder: ck['adam_m'].append(PLACE),
                              raw=', '.join(['0'] * 10**6))
        before = snapshot(self.tmp)
        result = self.run_here('--load', 'ck.json', timeout=10)
        self.assertIn('adam_m', self.assertCheckpointRefused(result, before))
        self.assertLess(result[3], 3, 'seconds to refuse')


# 3. Saving keeps every string as it was

class SavingKeepsStrings(SafetyTestCase):
    def test_a_dataset_path_with_spaces_inside_brackets_is_saved_exactly(self):
        self.write('names [ v2 ].txt', DOCS)
        status, _, stderr, _ = self.run_here('--input', 'names [ v2 ].txt', *QUICK,
                                             '--save', 'ck.json')
        self.assertEqual((status, stderr), (0, ''))
        self.assertEqual(self.read_json('ck.json')['dataset']['path'],
                         os.path.abspath(self.path('names [ v2 ].txt')))

    def test_json_special_characters_survive_a_round_trip(self):
        self.write('odd.txt', 'a[b]c\n"q"\nx\\y\n[ ]\n')
        prompt = '["\\'
        status, trained, stderr, _ = self.run_here('--input', 'odd.txt', *QUICK,
                                                   '--num_samples=4', '--prompt', prompt,
                                                   '--save', 'ck.json')
        self.assertEqual((status, stderr), (0, ''))
        self.assertEqual(self.read_json('ck.json')['vocab'], ' "[\\]abcqxy')
        status, again, stderr, _ = self.run_here('--load', 'ck.json', '--num_steps=0',
                                                 '--num_samples=4', '--prompt', prompt)
        self.assertEqual((status, stderr), (0, ''))
        samples = last_step_and_samples(again)
        self.assertEqual(samples, last_step_and_samples(trained)[1:])
        self.assertEqual(len(samples), 4)
        for line in samples:
            self.assertTrue(line.split(': ', 1)[1].startswith(prompt), line)


# 4 and 5. The printed command resumes exactly; SIGTERM and SIGHUP save as Ctrl-C does

class Resume(SafetyTestCase):
    def interrupt(self, args, signum=signal.SIGINT):
        """A run stopped by signum once it has printed two steps (so it has finished one
        since it started): (status, stdout, stderr)."""
        proc = subprocess.Popen([sys.executable, SCRIPT, *args], cwd=self.tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=default_sigint,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        try:
            out, deadline = b'', time.monotonic() + 20
            while out.count(b' | loss ') < 2:
                ready = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
                chunk = os.read(proc.stdout.fileno(), 4096) if ready[0] else b''
                self.assertTrue(chunk, 'the run ended or hung before its second step')
                out += chunk
            proc.send_signal(signum)
            rest, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return proc.returncode, text(out + rest), text(err)

    def whole_run(self, args):
        """A run never interrupted, saving to ref.json: (last step and samples, checkpoint),
        run once for each folder and options."""
        known = self.__dict__.setdefault('whole_runs', {})
        if (self.tmp, *args) not in known:
            status, stdout, stderr, _ = self.run_here(*args, '--save', 'ref.json')
            self.assertEqual((status, stderr), (0, ''))
            known[(self.tmp, *args)] = last_step_and_samples(stdout), self.read_json('ref.json')
        return known[(self.tmp, *args)]

    def go_on(self, stderr, save):
        """The "go on with:" command of an interrupted run's line, run by bash here:
        (last step and samples, the checkpoint it saved)."""
        line = self.assertOneInterruptLine(stderr)
        command = line.split('go on with: ', 1)[1]
        try:
            result = subprocess.run(['bash', '-c', command], cwd=self.tmp, timeout=60,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired:
            self.fail(f'the resume command hangs: {command}')
        self.assertEqual((result.returncode, text(result.stderr)), (0, ''), command)
        return last_step_and_samples(text(result.stdout)), self.read_json(save)

    def assertOneInterruptLine(self, stderr):
        self.assertNotIn('Traceback', stderr, stderr[-1000:])
        self.assertTrue(stderr.startswith('microgpt.py: interrupted'), f'stderr: {stderr[:500]!r}')
        self.assertTrue(stderr.endswith('\n') and len(stderr.splitlines()) == 1,
                        f'not one line on stderr: {stderr!r}')
        self.assertIn(' is saved in ', stderr)
        self.assertIn('; go on with: ', stderr)
        return stderr[:-1]

    def assertResumesExactly(self, args, save, signum=signal.SIGINT):
        want = self.whole_run(args)
        status, _, stderr = self.interrupt([*args, '--save=' + save], signum)
        self.assertEqual(status, 128 + signum, f'exit status; stderr: {stderr[-500:]!r}')
        self.assertEqual([name for name in os.listdir(self.tmp) if name.endswith('.part')], [])
        saved = self.read_json(save)
        self.assertLess(saved['step'], settings_of(saved)['num_steps'], 'stopped mid-run')
        lines, ck = self.go_on(stderr, save)
        self.assertEqual(lines, want[0])
        self.assertEqual(ck, want[1])

    RESUMED = [  # (what is special, dataset, options, --save FILE)
        ('a name starting with "-"', 'names.txt', [], '-ck.json'),
        ('a name with a space', 'names.txt', [], 'my model.json'),
        ('a name with a single quote', 'names.txt', [], "bob's.json"),
        ('a name with a letter beyond ASCII', 'names.txt', [], 'zoë.json'),
        ('a dataset named with brackets', 'names [ v2 ].txt', [], 'ck.json'),
        ('sampling options', 'names.txt',
         ['--temperature=0.7', '--num_samples=4', '--prompt=da'], 'ck.json'),
    ]

    @seconds
    def test_the_printed_command_resumes_exactly_whatever_the_names(self):
        self.write('names [ v2 ].txt', DOCS)
        for case, dataset, options, save in self.RESUMED:
            with self.subTest(case):
                self.assertResumesExactly(['--input', dataset, *LONG, *options], save)

    def test_the_printed_command_of_a_resumed_run_keeps_its_seed(self):
        status, _, stderr = self.interrupt(['--input', 'names.txt', *LONG, '--save', 'ck.json'])
        self.assertEqual(status, 130, stderr)
        shutil.copy(self.path('ck.json'), self.path('start.json'))
        want = self.whole_run(['--load', 'start.json', '--seed', '5'])
        status, _, stderr = self.interrupt(['--load', 'ck.json', '--seed', '5',
                                            '--save', 'ck.json'])
        self.assertEqual(status, 130, stderr)
        self.assertLess(self.read_json('ck.json')['step'], 60, 'stopped mid-run')
        lines, ck = self.go_on(stderr, 'ck.json')
        self.assertEqual(lines, want[0])
        self.assertEqual(ck, want[1])

    @seconds
    def test_sigterm_and_sighup_save_as_ctrl_c_does(self):
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with self.subTest(signal.Signals(signum).name):
                self.assertResumesExactly(['--input', 'names.txt', *LONG], 'ck.json', signum)


# 6. The same answer on every interpreter

class SameAnswerEverywhere(SafetyTestCase):
    def test_a_temperature_too_small_for_the_scores_is_refused_at_the_first_draw(self):
        status, _, stderr, _ = self.run_here('--input', 'names.txt', *SMALL, '--num_steps=30',
                                             '--learning_rate=0.1', '--num_samples=2',
                                             '--save', 'ck.json')
        self.assertEqual((status, stderr), (0, ''))
        # the first scores drawn from, divided by a temperature that 1 divides but they do not
        run = microgpt.read_checkpoint(os.path.join(self.tmp, 'ck.json'))
        config = microgpt.SimpleNamespace(**{**vars(microgpt.settings), **run['settings']})
        logits = microgpt.gpt(run['tokenizer'].BOS, 0, microgpt.kv_cache(config),
                              run['state_dict'], config)
        largest = max(abs(logit.data) for logit in logits)
        if largest < 1.001:
            self.skipTest('scores this small fit every temperature that 1 can be divided by')
        temperature = largest / sys.float_info.max * (1 - 1e-6)
        before = snapshot(self.tmp)
        result = self.run_here('--load', 'ck.json', '--num_steps=0', f'--temperature={temperature!r}')
        line = self.assertRefused(result, before, quiet=False)
        self.assertIn('temperature', line)
        self.assertNotIn('\nsample ', result[1])


if __name__ == '__main__':
    unittest.main()
