"""Keeping a trained model (--save, --load), going on after Ctrl-C exactly where
training stopped, and starting samples from a prompt (--prompt); what --save may
name, refused before training, and how it writes the file.

The resumed runs must equal a run never interrupted, bit for bit: the same
printed losses and samples, and the same checkpoint file, byte for byte (its
numbers are written as repr() floats, so equal bytes mean equal weights and
equal Adam buffers)."""
import contextlib
import io
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import unittest
from types import SimpleNamespace
from unittest import mock

import microgpt
from tests.harness import (ROOT, SCRIPT, TINY, CheckpointFolder, ExactTestCase, Folder,
                           count_parameters, default_sigint, model_shapes, run_main, run_script,
                           settings_with, unprivileged, seconds)

NAMES = os.path.join(ROOT, 'input.txt')
SMALL = ['--n_embd=8', '--n_head=2', '--block_size=8']  # a small model: quick to train


class Interrupt(Exception):
    """Stands for the KeyboardInterrupt that Ctrl-C raises, at a chosen moment."""


def shapes(state_dict):
    """Each matrix's name, rows and columns."""
    return [(name, len(mat), len(mat[0])) for name, mat in state_dict.items()]


def header(docs):
    """The first two lines a run on these documents prints."""
    return f'num docs: {len(docs)}\nvocab size: {microgpt.build_tokenizer(docs).vocab_size}\n'


def last_step_and_samples(stdout):
    """The last progress line and every sample line of a run's output."""
    lines = stdout.replace('\r', '\n').splitlines()
    steps = [line for line in lines if line.startswith('step')]
    return steps[-1:] + [line for line in lines if line.startswith('sample')]


class CheckpointTestCase(Folder):
    FOR_EACH_TEST, DATASET = True, None

    def assertSampled(self, result):
        """main() ended well, and sampled."""
        self.assertIn('--- inference', self.assertRanWell(result))


class SaveAndLoad(CheckpointTestCase):
    def test_saving_changes_nothing_that_is_printed(self):
        plain = run_main('--num_steps=5', *SMALL)
        saved = run_main('--num_steps=5', *SMALL, '--save', self.path('ck.json'))
        self.assertSampled(saved)
        self.assertEqual(saved, plain)

    def test_the_file_is_json_with_every_weight_as_an_exact_number(self):
        run_main('--num_steps=3', *SMALL, '--save', self.path('ck.json'))
        with open(self.path('ck.json'), encoding='utf-8') as f:
            ck = json.load(f)
        docs = microgpt.load_docs(NAMES)
        self.assertEqual((ck['format'], ck['version']), ('microgpt checkpoint', 2))
        self.assertEqual(sorted(ck), sorted(microgpt.CHECKPOINT_KEYS))
        self.assertEqual((ck['step'], ck['settings']['num_steps'], ck['settings']['seed']),
                         (3, 3, microgpt.settings.seed))
        self.assertEqual((ck['settings']['n_embd'], ck['settings']['block_size']), (8, 8))
        self.assertEqual(ck['vocab'], ''.join(microgpt.build_tokenizer(docs).chars))
        self.assertEqual(ck['dataset']['num_docs'], len(docs))
        config = settings_with(**{name: value for name, value in ck['settings'].items()
                                  if name in vars(microgpt.settings)})
        self.assertEqual(shapes(ck['state_dict']), model_shapes(len(ck['vocab']) + 1, config))
        n = count_parameters(len(ck['vocab']) + 1, config)  # Adam keeps two numbers for each
        self.assertEqual((len(ck['adam_m']), len(ck['adam_v'])), (n, n))
        self.assertEqual(len(ck['losses']), 3)
        self.assertTrue(all(type(x) is float for mat in ck['state_dict'].values()
                            for row in mat for x in row))

    def test_the_file_is_text_whose_every_line_ends_in_a_line_break(self):
        run_main('--num_steps=1', *SMALL, '--save', self.path('ck.json'))
        with open(self.path('ck.json'), 'rb') as f:
            self.assertTrue(f.read().endswith(b'}\n'))

    def test_load_gives_back_every_weight_and_adam_buffer_exactly(self):
        # a model trained in this process, saved by main(), loaded by main()'s loader
        record = {}
        real_text = microgpt.checkpoint_text

        def keep(ck):  # the checkpoint as the program holds it, before it is written
            record.update(ck)
            return real_text(ck)
        with mock.patch.object(microgpt, 'checkpoint_text', keep):
            self.assertSampled(run_main('--num_steps=4', *SMALL, '--save', self.path('ck.json')))
        run = microgpt.read_checkpoint(self.path('ck.json'))
        weights = [repr(p.data) for mat in run['state_dict'].values() for row in mat for p in row]
        self.assertSame(weights, [repr(x) for mat in record['state_dict'].values()
                                  for row in mat for x in row], 'weights')
        self.assertSame([repr(x) for x in run['m']], [repr(x) for x in record['adam_m']], 'Adam m')
        self.assertSame([repr(x) for x in run['v']], [repr(x) for x in record['adam_v']], 'Adam v')
        self.assertSame([repr(x) for x in run['losses']], [repr(x) for x in record['losses']],
                        'losses')
        self.assertEqual(run['random_state'], record['random_state'])
        self.assertEqual((run['step'], run['settings']), (record['step'], record['settings']))

    def test_sampling_from_a_finished_run_repeats_its_samples(self):
        trained = run_main('--num_steps=6', *SMALL, '--save', self.path('ck.json'))
        again = run_main('--load', self.path('ck.json'), '--num_steps=0')
        self.assertSampled(again)
        self.assertEqual(last_step_and_samples(again[1]), last_step_and_samples(trained[1])[1:])
        self.assertTrue(again[1].startswith(header(microgpt.load_docs(NAMES)) + 'num params: '))

    def test_a_new_seed_draws_other_samples_from_the_same_model(self):
        run_main('--num_steps=6', *SMALL, '--save', self.path('ck.json'))
        first = run_main('--load', self.path('ck.json'), '--num_steps=0', '--seed=7')
        second = run_main('--load', self.path('ck.json'), '--num_steps=0', '--seed=7')
        other = run_main('--load', self.path('ck.json'), '--num_steps=0')
        self.assertEqual(first, second)
        self.assertNotEqual(first[1], other[1])

    def test_sampling_alone_needs_only_the_checkpoint(self):
        # a folder holding microgpt.py and the checkpoint, and no way to the network
        run_main('--num_steps=3', *SMALL, '--save', self.path('ck.json'))
        alone = self.folder / 'alone'
        alone.mkdir()
        shutil.copy(SCRIPT, alone)
        shutil.copy(self.path('ck.json'), alone)
        env = dict(os.environ, https_proxy='http://127.0.0.1:9', HTTPS_PROXY='http://127.0.0.1:9')
        result = run_script('--load', 'ck.json', '--num_steps=0', '--num_samples=3',
                            script=str(alone / 'microgpt.py'), cwd=alone, env=env)
        self.assertEqual((result.returncode, result.stderr), (0, b''))
        self.assertEqual(result.stdout.count(b'\nsample '), 3)
        self.assertEqual(sorted(p.name for p in alone.iterdir()), ['ck.json', 'microgpt.py'])

    def test_an_existing_checkpoint_is_replaced_whole(self):
        run_main('--num_steps=2', *SMALL, '--save', self.path('ck.json'))
        run_main('--num_steps=4', *SMALL, '--save', self.path('ck.json'))
        with open(self.path('ck.json'), encoding='utf-8') as f:
            self.assertEqual(json.load(f)['step'], 4)
        self.assertEqual(sorted(os.listdir(self.folder)), ['ck.json'])  # no temporary file left


class Resume(CheckpointTestCase):
    """Interrupted at some moment and resumed with --load, a run ends exactly as
    the run that was never interrupted: same last loss, samples and checkpoint."""

    ARGS = ['--num_steps=8', *SMALL, '--num_samples=5']

    def uninterrupted(self):
        status, out, _ = run_main(*self.ARGS, '--save', self.path('whole.json'))
        self.assertEqual(status, 0)
        return last_step_and_samples(out), pathlib.Path(self.path('whole.json')).read_bytes()

    def interrupted_then_resumed(self, where, call):
        """Ctrl-C (as KeyboardInterrupt) on the call-th call of microgpt.`where`;
        inside adam_step it comes after half the weights are updated."""
        real = getattr(microgpt, where)
        calls = []

        def interrupt_on_call(*args):
            calls.append(1)
            if len(calls) == call:
                if where == 'adam_step':
                    params, rest = args[0], args[1:]
                    real(params[:len(params) // 2], *rest)  # half updated, half not
                raise KeyboardInterrupt
            return real(*args)
        ck = self.path('part.json')
        with mock.patch.object(microgpt, where, interrupt_on_call):
            status, out, err = run_main(*self.ARGS, '--save', ck)
        self.assertEqual(status, 130)
        self.assertTrue(out.endswith('\n'))
        self.assertIn(f'is saved in {ck}; go on with: ', err)
        self.assertEqual(len(err.splitlines()), 1)
        status, out, err = run_main('--load', ck, '--save', ck, '--num_samples=5')
        self.assertEqual((status, err), (0, ''))
        return last_step_and_samples(out), pathlib.Path(ck).read_bytes()

    @seconds
    def test_interrupted_anywhere_it_goes_on_exactly(self):
        whole_run, whole_file = self.uninterrupted()
        for where, call in [('doc_loss', 1), ('adam_step', 1), ('doc_loss', 5),
                            ('adam_step', 5), ('adam_step', 8)]:
            with self.subTest(where=where, call=call):
                lines, file = self.interrupted_then_resumed(where, call)
                self.assertEqual(lines, whole_run)
                self.assertSame(file, whole_file, 'checkpoint bytes')

    @unittest.skipIf(os.name == 'nt', 'Ctrl-C is a POSIX signal here')
    @seconds
    def test_a_real_ctrl_c_saves_and_the_printed_command_goes_on(self):
        args = ['--num_steps=200', *SMALL, '--num_samples=5']
        whole = run_script(*args, '--save', self.path('whole.json'))
        proc = subprocess.Popen([sys.executable, SCRIPT, *args, '--save', self.path('part.json')],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, preexec_fn=default_sigint,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        try:
            out = b''
            while b'step   30 ' not in out:
                chunk = proc.stdout.read1(4096)
                self.assertTrue(chunk, 'the run ended before it could be interrupted')
                out += chunk
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
            proc.wait()
        self.assertEqual(proc.returncode, 130)
        self.assertTrue((out + rest).endswith(b'\n'))
        line = err.decode()
        self.assertEqual(len(line.splitlines()), 1, line)
        command = line.split('go on with: ')[1].split()
        self.assertEqual(command[1:], [SCRIPT, '--load=' + self.path('part.json'),
                                       '--save=' + self.path('part.json'), '--num_samples=5'])
        resumed = run_script(*command[2:])
        self.assertEqual((resumed.returncode, resumed.stderr), (0, b''))
        self.assertEqual(last_step_and_samples(resumed.stdout.decode()),
                         last_step_and_samples(whole.stdout.decode()))
        self.assertSame(pathlib.Path(self.path('part.json')).read_bytes(),
                        pathlib.Path(self.path('whole.json')).read_bytes(), 'checkpoint bytes')


class UnusableCheckpoints(CheckpointTestCase):
    """One line on stderr, exit status 2, nothing on stdout, the file unchanged."""

    def assertRefused(self, path, *words):
        before = pathlib.Path(path).read_bytes() if os.path.isfile(path) else None
        result = run_script('--load', path, '--num_steps=0')
        lines = result.stderr.decode().splitlines()
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(result.stdout, b'')
        self.assertTrue(lines[0].startswith(f'microgpt.py: error: --load {path} is not usable: '),
                        lines[0])
        self.assertTrue(lines[0].endswith('; pass a file written by --save'), lines[0])
        for word in words:
            self.assertIn(word, lines[0])
        if before is not None:
            self.assertEqual(pathlib.Path(path).read_bytes(), before)

    @seconds
    def test_a_table_of_unusable_files(self):
        run_main('--num_steps=1', '--n_embd=4', '--n_head=2', '--block_size=4',
                 '--save', self.path('good.json'))
        good = pathlib.Path(self.path('good.json')).read_text(encoding='utf-8')
        names = list(json.loads(good)['state_dict'])  # the model's matrices, in their order
        first, second, last = names[0], names[1], names[-1]
        rows, cols = (lambda mat: (len(mat), len(mat[0])))(json.loads(good)['state_dict'][first])
        weight = repr(json.loads(good)['state_dict'][second][-1][-1])  # a number found once
        self.assertEqual(good.count(weight), 1)

        def variant(change):
            copy = json.loads(good)
            change(copy)
            return json.dumps(copy)
        (self.folder / 'folder').mkdir()
        cases = [  # (what, the file's text, words its one line must hold)
            ('missing', None, ['cannot be read', 'No such file']),
            ('folder', None, ['not a regular file']),
            ('empty', '', ['not JSON']),
            ('text', 'emma\nolivia\n', ['not JSON']),
            ('truncated', good[:len(good) // 2], ['not JSON from line']),
            ('latin1', None, ['not UTF-8']),
            ('other JSON', '{"name": "my-package", "version": "1.0.0"}', ['not a microgpt']),
            ('a list', '[1, 2, 3]', ['not a microgpt']),
            ('another version', variant(lambda c: c.__setitem__('version', 1)),
             ['version 1', f'reads {microgpt.CHECKPOINT_VERSION}']),
            ('no weights', variant(lambda c: c.pop('state_dict')), ["lacks 'state_dict'"]),
            ('a row too short', variant(lambda c: c['state_dict'][first][0].pop()),
             [f'{first} is not the {rows} x {cols} matrix']),
            ('a matrix missing', variant(lambda c: c['state_dict'].pop(last)), [last]),
            ('a matrix unknown', variant(lambda c: c['state_dict'].__setitem__('extra', [[0.5]])),
             ["'extra'"]),
            ('a row too long', variant(lambda c: c['state_dict'][first][0].append(0.5)),
             [f'{first} is not the {rows} x {cols} matrix']),
            ('a row moved', variant(lambda c: c['state_dict'][second].append(
                c['state_dict'][first].pop())), [f'{first} is not the {rows} x {cols} matrix']),
            ('a weight as text',
             variant(lambda c: c['state_dict'][second][-1].__setitem__(-1, '0.5')),
             ["'0.5' is not a finite number"]),
            ('a weight null', variant(lambda c: c['adam_v'].__setitem__(0, None)),
             ['None is not a finite number']),
            ('NaN', good.replace(weight, 'NaN'), ['nan is not a finite number']),
            ('Infinity', good.replace(weight, '-Infinity'), ['-inf is not a finite number']),
            ('shape and settings', variant(lambda c: c['settings'].__setitem__('n_embd', 6)),
             [first, 'x 6 matrix']),
            ('heads', variant(lambda c: c['settings'].__setitem__('n_head', 3)),
             ['not divisible by its n_head']),
            ('a step past the end', variant(lambda c: c.__setitem__('step', 5)),
             ['its step, 5, is not a step of its run']),
            ('a step not whole', variant(lambda c: c.__setitem__('step', 0.5)),
             ['its step, 0.5, is not a step of its run']),
            ('negative heads', variant(lambda c: c['settings'].__setitem__('n_head', -2)),
             ['n_head', 'at least 1']),
            ('a setting missing', variant(lambda c: c['settings'].pop('seed')),
             ["lacks the setting 'seed'"]),
            ('losses missing', variant(lambda c: c.__setitem__('losses', [])), ['losses']),
            ('no random state', variant(lambda c: c.__setitem__('random_state', [3, [1, 2]])),
             ['random_state']),
            ('no dataset digest', variant(lambda c: c['dataset'].pop('sha256')), ['dataset']),
        ]
        for number, (name, text, words) in enumerate(cases):
            path = self.path(f'case{number}.json')  # a name that holds none of the words
            if text is not None:
                pathlib.Path(path).write_text(text, encoding='utf-8')
            if name == 'folder':
                path = str(self.folder / 'folder')
            if name == 'latin1':
                pathlib.Path(path).write_bytes('{"format": "é"}'.encode('latin-1'))
            with self.subTest(name):
                self.assertRefused(path, *words)

    def test_the_unchanged_file_of_the_table_is_taken(self):  # so that the table tests what it says
        run_main('--num_steps=1', '--n_embd=4', '--n_head=2', '--block_size=4',
                 '--save', self.path('good.json'))
        result = run_script('--load', self.path('good.json'), '--num_steps=0')
        self.assertEqual((result.returncode, result.stderr), (0, b''))


class SaveRefusedBeforeTraining(CheckpointTestCase):
    """A --save FILE that cannot be written is refused at once, with one line."""

    def assertRefused(self, save, *words, python=sys.executable, script=SCRIPT, preexec_fn=None):
        result = subprocess.run([python, script, '--save', save, '--num_steps=1000'],
                                capture_output=True, timeout=60, preexec_fn=preexec_fn)
        lines = result.stderr.decode().splitlines()
        self.assertEqual((result.returncode, result.stdout), (2, b''))
        self.assertEqual(len(lines), 1, lines)
        for word in ('--save', *words):
            self.assertIn(word, lines[0])

    def test_a_name_in_a_missing_folder_is_refused(self):
        self.assertRefused(self.path('nowhere/ck.json'), 'No such file')

    def test_a_directory_is_refused(self):
        self.assertRefused(str(self.folder), 'not a regular file')

    def test_a_file_that_is_not_a_checkpoint_is_never_replaced(self):
        mine = self.folder / 'notes.txt'
        mine.write_text('my notes\n')
        self.assertRefused(str(mine), 'not a checkpoint')
        self.assertEqual(mine.read_text(), 'my notes\n')

    def test_a_name_in_a_folder_without_write_permission_is_refused(self):
        user = unprivileged()  # root may write anywhere: the check runs as a user who may not
        if user is None:
            self.skipTest('no user without write permission can be arranged here')
        python, preexec_fn = user
        self.folder.chmod(0o755)
        script = shutil.copy(SCRIPT, self.folder)
        shutil.copy(NAMES, self.folder)
        locked = self.folder / 'locked'
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        self.assertRefused(str(locked / 'ck.json'), 'Permission denied', python=python,
                           script=script, preexec_fn=preexec_fn)


class WritingAFile(CheckpointFolder):
    """How --save writes: whole, through a link, or not at all and said so."""
    def test_a_file_written_through_a_symbolic_link_keeps_the_link(self):
        target, link = self.path('target.json'), self.path('link.json')
        os.symlink('target.json', link)
        self.addCleanup(os.remove, link)
        microgpt.write_whole(link, b'new')
        self.assertTrue(os.path.islink(link))
        with open(target, 'rb') as f:
            self.assertEqual(f.read(), b'new')

    def test_a_save_that_fails_at_the_end_exits_with_status_1(self):
        missing = self.path(os.path.join('removed folder', 'ck.json'))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as caught:
            microgpt.save(missing, self.ck())
        self.assertEqual(caught.exception.code, 1)
        self.assertTrue(err.getvalue().startswith('microgpt.py: error: could not save'))


class SaveNames(Folder):
    """What --save may name, checked before training, in this process."""
    def test_a_save_name_of_exactly_the_longest_length_allowed_is_taken(self):
        longest = os.pathconf(self.folder, 'PC_NAME_MAX')
        config = SimpleNamespace(save=self.path('x' * longest), input=self.names)
        microgpt.check_save(config)  # no SystemExit

    def test_a_name_longer_in_bytes_than_the_system_allows_is_refused_before_training(self):
        longest = os.pathconf(self.folder, 'PC_NAME_MAX')
        name = '\u4e2d' * (longest // 3 + 1)  # 3 bytes each in UTF-8: fewer characters than that
        self.assertLess(len(name), longest)
        with mock.patch.object(microgpt, 'train_step', side_effect=AssertionError('trained')):
            self.assertRefused(run_main('--input', self.names, *TINY, '--num_steps=1',
                                        '--save', self.path(name)),
                               'cannot be written (')

    def test_save_names_a_fifo_as_no_regular_file(self):
        fifo = self.path('fifo')
        os.mkfifo(fifo)
        self.addCleanup(os.remove, fifo)
        stderr = self.assertRefused(run_main('--input', self.names, *TINY, '--save', fifo))
        self.assertIn(f'--save {fifo} would replace what is not a checkpoint '
                      f'(it is not a regular file)', stderr)

    def test_save_to_a_parent_folder_is_refused(self):
        for name in ('..', os.path.join(self.folder, '..')):
            with self.subTest(name=name):
                self.assertRefused(run_main('--input', self.names, *TINY, '--save', name),
                                   'names a folder')

    def test_a_name_ending_in_a_slash_is_refused_as_a_folder(self):
        save = self.path('newdir') + os.sep
        self.assertRefused(run_main('--input', self.names, *TINY, '--num_steps=1', '--save', save),
                           'names a folder')
        self.assertFalse(os.path.exists(self.path('newdir')))


class OtherOptionsWithLoad(CheckpointTestCase):
    def setUp(self):
        super().setUp()
        run_main('--num_steps=4', *SMALL, '--save', self.path('ck.json'))

    def test_contradicting_options_are_refused(self):
        for args, words in [
            (['--n_layer=2'], ['--n_layer', 'comes from']),
            (['--n_embd=8'], ['--n_embd', 'comes from']),  # even when equal: it is not an option
            (['--learning_rate=0.1'], ['--learning_rate']),
            (['--num_steps=9'], ['--num_steps', '--num_steps=0']),
        ]:
            with self.subTest(args):
                status, out, err = run_main('--load', self.path('ck.json'), *args)
                self.assertEqual((status, out), (2, ''))
                self.assertEqual(len(err.splitlines()), 1)
                for word in words:
                    self.assertIn(word, err)

    def test_another_dataset_is_refused_for_training(self):
        run_main('--num_steps=4', *SMALL, '--save', self.path('half.json'))
        ck = json.loads(pathlib.Path(self.path('half.json')).read_text(encoding='utf-8'))
        ck['step'], ck['losses'] = 2, ck['losses'][:2]  # as if stopped half way
        pathlib.Path(self.path('half.json')).write_text(json.dumps(ck), encoding='utf-8')
        other = self.folder / 'other.txt'
        other.write_text('ana\nbob\n')
        status, out, err = run_main('--load', self.path('half.json'), '--input', str(other))
        self.assertEqual(status, 2)
        self.assertIn('does not hold the documents', err)
        self.assertNotIn('step', out)


class AModelOptionWithLoad(CheckpointFolder):
    def test_a_model_option_with_load_is_refused_without_the_num_steps_hint(self):
        stderr = self.assertRefused(run_main('--load', self.ck_path, '--n_embd=8'),
                                    f'--n_embd comes from {self.ck_path} (which says 4)')
        self.assertTrue(stderr.rstrip('\n').endswith('; leave it out'), stderr)


class Prompt(ExactTestCase):
    def test_every_sample_starts_with_the_prompt(self):
        status, out, err = run_main('--num_steps=20', '--prompt=ma')
        samples = [line.split(': ', 1)[1] for line in out.splitlines() if line.startswith('sample')]
        self.assertEqual((status, err, len(samples)), (0, '', microgpt.settings.num_samples))
        self.assertTrue(all(s.startswith('ma') for s in samples), samples)
        self.assertGreater(len(set(samples)), 5)

    def test_the_prompt_is_read_but_not_drawn(self):
        # the prompt's tokens take no random numbers: the first draw after the
        # prompt uses the same random number as the first draw without one
        config = settings_with(n_embd=8, n_head=2, block_size=8, prompt='abc')
        tokenizer = microgpt.build_tokenizer(['abcdefghijklmnopqrstuvwxyz'])
        random.seed(1)
        state_dict = microgpt.init_state_dict(tokenizer.vocab_size, config)
        state = random.getstate()
        microgpt.sample(state_dict, tokenizer, config)
        with_prompt = random.getstate()
        random.setstate(state)
        draws = []
        real_choices = random.choices
        with mock.patch.object(microgpt.random, 'choices',
                               lambda *a, **k: draws.append(1) or real_choices(*a, **k)):
            out = microgpt.sample(state_dict, tokenizer, config)
        self.assertTrue(out.startswith('abc'), out)
        self.assertEqual(len(draws), len(out) - 3 + (len(out) < config.block_size))  # + the BOS
        self.assertNotEqual(with_prompt, state)

    def test_prompts_that_cannot_work_are_refused_before_training(self):
        block = microgpt.settings.block_size
        whole_block = ('abcdefghijklmnopqrstuvwxyz' * (block // 26 + 1))[:block]
        for args, words in [
            (['--prompt=Ma'], ["'M'", 'vocabulary']),
            (['--prompt=ma1!'], ["'!1'", 'vocabulary']),
            ([f'--prompt={whole_block}'], [f'{block} characters', f'block of {block}']),
            (['--prompt=abc', '--block_size=3'], ['3 characters', 'block of 3']),
        ]:
            with self.subTest(args):
                status, out, err = run_main('--num_steps=1000', *args)
                self.assertEqual(status, 2)
                self.assertEqual(len(err.splitlines()), 1)
                self.assertNotIn('step', out)
                for word in words:
                    self.assertIn(word, err)


if __name__ == '__main__':
    unittest.main()
