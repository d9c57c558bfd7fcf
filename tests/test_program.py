"""The program around the lecture, edge by edge: what a checkpoint may hold and
what it must not, how files are written, what the instruments print and when,
and how a run is resumed. Each test pins one behaviour that a careless one-line
edit of the program would break (found by mutation testing); most run main()
or one of its helpers in this process, on a tiny model, so the module is quick."""
import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from types import SimpleNamespace
from unittest import mock

import microgpt
from tests.harness import run_main, SCRIPT, ExactTestCase

TINY = ['--n_embd=4', '--n_head=1', '--block_size=8', '--num_samples=3']
DOCS = ['anna', 'bob', 'carl', 'dave', 'emma', 'finn', 'gus', 'hana']


def lines_of(stdout):
    return stdout.replace('\r', '\n').splitlines()


class ProgramTestCase(ExactTestCase):
    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(tmp.cleanup)
        cls.tmp = tmp.name
        cls.names = cls.write('names.txt', '\n'.join(DOCS) + '\n')

    @classmethod
    def write(cls, name, content):
        path = os.path.join(cls.tmp, name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(content)
        return path

    def assertRanWell(self, result):
        status, stdout, stderr = result
        self.assertEqual((status, stderr), (0, ''), stdout[-300:])
        return stdout

    def assertRefused(self, result, *words):
        status, stdout, stderr = result
        self.assertEqual(status, 2, stderr)
        self.assertTrue(stderr.startswith('microgpt.py: error:'), stderr)
        for word in words:
            self.assertIn(word, stderr)
        return stderr


class CheckpointTestCase(ProgramTestCase):
    """A checkpoint of a few steps, written by main(), and its JSON."""
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

    def assertRebuildRefuses(self, ck, *words):
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.rebuild(ck)
        for word in words:
            self.assertIn(word, str(caught.exception))


class WhatACheckpointMayHold(CheckpointTestCase):
    def test_the_unchanged_checkpoint_is_rebuilt(self):  # the control of the tests below
        run = microgpt.rebuild(self.ck())
        self.assertEqual(run['step'], self.STEPS)

    def test_a_loss_that_is_true_is_refused(self):  # JSON true is no number, though bool is int
        ck = self.ck()
        ck['losses'][0] = True
        self.assertRebuildRefuses(ck, 'not a finite number')

    def test_a_loss_that_is_text_is_refused(self):
        ck = self.ck()
        ck['losses'][-1] = '2.5'
        self.assertRebuildRefuses(ck, 'not a finite number')

    def test_more_losses_than_steps_are_refused(self):
        ck = self.ck()
        ck['losses'].append(ck['losses'][-1])
        self.assertRebuildRefuses(ck, 'losses')

    def test_an_adam_v_shorter_than_the_weights_is_refused(self):
        ck = self.ck()
        ck['adam_v'].pop()
        self.assertRebuildRefuses(ck, 'adam_m and adam_v')

    def test_a_vocab_with_a_repeated_character_is_refused(self):  # same length, so same shapes
        ck = self.ck()
        ck['vocab'] = ck['vocab'][0] + ck['vocab'][:-1]
        self.assertRebuildRefuses(ck, 'vocab')

    def test_a_dataset_of_no_documents_is_refused(self):
        ck = self.ck()
        ck['dataset']['num_docs'] = 0
        self.assertRebuildRefuses(ck, 'dataset')

    def test_a_whole_number_for_a_float_setting_is_taken_as_that_float(self):
        ck = self.ck()
        ck['settings']['learning_rate'] = 1
        settings = microgpt.rebuild(ck)['settings']
        self.assertEqual((settings['learning_rate'], type(settings['learning_rate'])), (1.0, float))

    def test_a_file_nested_deeper_than_python_can_parse_is_refused_in_one_line(self):
        path = self.write('deep.json', '[' * 200000 + ']' * 200000)
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(path)
        self.assertIn('nest deeper than Python can read', str(caught.exception))

    def test_a_file_with_one_unpaired_bracket_in_a_string_is_read(self):
        ck = self.ck()
        ck['dataset']['path'] = os.path.join(self.tmp, 'names[old.txt')
        microgpt.read_checkpoint(self.write('bracket.json', json.dumps(ck)))


    def test_a_step_one_beyond_its_run_is_refused(self):
        ck = self.ck()
        ck['step'] = ck['settings']['num_steps'] + 1
        ck['losses'] += [2.0] * (ck['step'] - len(ck['losses']))
        self.assertRebuildRefuses(ck, 'is not a step of its run')

    def test_an_empty_vocab_is_refused(self):
        ck = self.ck()
        ck['vocab'] = ''
        self.assertRebuildRefuses(ck, 'vocab')

    def test_a_whole_number_of_31_digits_is_read_as_a_whole_number(self):
        text = self.ck_text.replace(f'"step": {self.STEPS},', '"step": ' + '1' + '0' * 30 + ',')
        path = self.write('big.json', text)
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(path)
        self.assertIn('its step, 1' + '0' * 30 + ',', str(caught.exception))

    def test_a_number_of_more_digits_than_python_reads_is_refused_in_a_short_line(self):
        digits = '1' * (microgpt.LONGEST_NUMBER + 1)
        text = self.ck_text.replace(f'"step": {self.STEPS},', f'"step": {digits},')
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(self.write('long.json', text))
        self.assertLess(len(str(caught.exception)), 100)

    def test_a_weight_of_400_digits_is_refused_as_no_finite_number(self):
        ck = self.ck()
        ck['state_dict'][next(iter(ck['state_dict']))][0][0] = 10 ** 400
        self.assertRebuildRefuses(ck, '10000000000', 'is not a finite number')

    def test_a_number_of_as_many_digits_as_python_reads_is_read(self):
        digits = '1' * microgpt.LONGEST_NUMBER
        text = self.ck_text.replace(f'"step": {self.STEPS},', f'"step": {digits},')
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(self.write('long.json', text))
        self.assertIn('is not a step of its run', str(caught.exception))

    def test_each_row_of_a_matrix_is_a_line_of_the_file(self):
        rows = [json.dumps(row) for mat in self.ck()['state_dict'].values() for row in mat]
        self.assertTrue(all('\n  ' + row in self.ck_text for row in rows))

    def test_a_value_of_40_characters_is_shown_whole_and_one_of_41_is_cut(self):
        self.assertEqual(microgpt.shown('x' * 38), repr('x' * 38))
        self.assertEqual(microgpt.shown('x' * 39), repr('x' * 39)[:36] + '...')


class TheGeneratorsState(unittest.TestCase):
    def json_state(self, state):
        return json.loads(json.dumps(state))  # as a checkpoint gives it back: lists, not tuples

    def setUp(self):
        self.addCleanup(random.setstate, random.getstate())

    def test_the_state_just_after_seeding_is_taken(self):  # its index is 624, the largest
        random.seed(1)
        state = random.getstate()
        self.assertEqual(microgpt.random_state(self.json_state(state)), state)

    def test_a_state_with_a_gaussian_in_hand_is_taken(self):  # an odd number of gauss() draws
        random.seed(1)
        random.gauss(0, 1)
        state = random.getstate()
        self.assertIsInstance(state[2], float)
        self.assertEqual(microgpt.random_state(self.json_state(state)), state)


class TheDatasetOfACheckpoint(ProgramTestCase):
    def test_documents_joined_differently_are_other_documents(self):
        path = self.write('joined.txt', 'ab\nc\n')
        status, _, stderr = run_main('--input', path, *TINY, '--num_steps=2', '--save',
                                     os.path.join(self.tmp, 'joined.json'))
        self.assertEqual((status, stderr), (0, ''))
        other = self.write('split.txt', 'a\nbc\n')  # the same characters in the same order
        self.assertRefused(run_main('--load', os.path.join(self.tmp, 'joined.json'),
                                    '--input', other), 'does not hold the documents')

    def test_gradcheck_of_a_checkpoint_reads_its_dataset(self):
        moved = os.path.join(self.tmp, 'moved.json')
        gone = self.write('gone.txt', '\n'.join(DOCS) + '\n')
        status, _, stderr = run_main('--input', gone, *TINY, '--num_steps=2', '--save', moved)
        self.assertEqual((status, stderr), (0, ''))
        os.remove(gone)
        self.assertRefused(run_main('--load', moved, '--num_steps=0', '--gradcheck'),
                           'does not exist')


class Imports(ProgramTestCase):
    def test_a_run_that_neither_saves_nor_loads_never_imports_hashlib(self):  # 3 MB of memory
        code = ('import runpy, sys; sys.argv = sys.argv[1:]; '  # the script, then its options
                'runpy.run_path(sys.argv[0], run_name="__main__"); print("hashlib" in sys.modules)')
        for extra, imported in (([], 'False'), (['--save', os.path.join(self.tmp, 'h.json')], 'True')):
            with self.subTest(extra=extra):
                result = subprocess.run([sys.executable, '-c', code, SCRIPT, '--input', self.names,
                                         *TINY, '--num_steps=1', *extra], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(result.stdout.decode().split()[-1], imported, result.stderr)


class Seeds(ProgramTestCase):
    def test_an_explicit_seed_without_load_runs_as_that_seed_by_default(self):
        args = ['--input', self.names, *TINY, '--num_steps=2']
        default = self.assertRanWell(run_main(*args))
        given = self.assertRanWell(run_main(*args, f'--seed={microgpt.settings.seed}'))
        self.assertEqual(given, default)


class WritingFiles(ProgramTestCase):
    def test_a_file_written_through_a_symbolic_link_keeps_the_link(self):
        target, link = os.path.join(self.tmp, 'target.json'), os.path.join(self.tmp, 'link.json')
        os.symlink('target.json', link)
        self.addCleanup(os.remove, link)
        microgpt.write_whole(link, b'new')
        self.assertTrue(os.path.islink(link))
        with open(target, 'rb') as f:
            self.assertEqual(f.read(), b'new')

    def test_a_save_name_of_exactly_the_longest_length_allowed_is_taken(self):
        longest = os.pathconf(self.tmp, 'PC_NAME_MAX')
        config = SimpleNamespace(save=os.path.join(self.tmp, 'x' * longest), input=self.names)
        microgpt.check_save(config)  # no SystemExit

    def test_save_names_a_fifo_as_no_regular_file(self):
        fifo = os.path.join(self.tmp, 'fifo')
        os.mkfifo(fifo)
        self.addCleanup(os.remove, fifo)
        stderr = self.assertRefused(run_main('--input', self.names, *TINY, '--save', fifo))
        self.assertIn(f'--save {fifo} would replace what is not a checkpoint '
                      f'(it is not a regular file)', stderr)


class Help(ProgramTestCase):
    def test_an_empty_default_is_not_shown(self):
        status, stdout, _ = run_main('--help')
        self.assertEqual(status, 0)
        self.assertNotIn('(default: )', stdout)
        self.assertIn('(default: 0.5)', stdout)  # the control: a default that is shown


class SaveNames(ProgramTestCase):
    def test_save_to_a_parent_folder_is_refused(self):
        for name in ('..', os.path.join(self.tmp, '..')):
            with self.subTest(name=name):
                self.assertRefused(run_main('--input', self.names, *TINY, '--save', name),
                                   'names a folder')


class Devices(ProgramTestCase):
    def test_a_block_device_is_no_dataset(self):
        with mock.patch.object(microgpt.stat, 'S_ISREG', return_value=False), \
                mock.patch.object(microgpt.stat, 'S_ISBLK', return_value=True):
            self.assertRefused(run_main('--input', self.names, *TINY), 'is a device')


def raised(f):
    """The exception that f() raises, with its traceback."""
    try:
        f()
    except Exception as error:
        return error
    raise AssertionError(f'{f} raised nothing')


class Divergence(unittest.TestCase):
    def test_an_infinite_loss_after_a_finite_one_stops_the_run_at_its_step(self):
        with mock.patch.object(microgpt, 'train_step', side_effect=[3.0, math.inf]):
            status, _, stderr = run_main('--n_embd=4', '--n_head=1', '--num_steps=3')
        self.assertEqual(status, 2)
        self.assertIn('training diverged at step 2 (the loss is inf)', stderr)

    def test_an_infinite_first_loss_is_no_divergence_but_an_error_of_the_code(self):
        with mock.patch.object(microgpt, 'train_step', return_value=math.inf), \
                self.assertRaises(ArithmeticError):
            run_main('--n_embd=4', '--n_head=1', '--num_steps=3')

    def test_a_math_function_refusing_a_number_in_an_operation_of_value_left_the_floats(self):
        for words in ('math domain error', 'expected a positive input, got 0.0'):  # 3.13, 3.14
            def log(x):
                raise ValueError(words)
            with self.subTest(words=words), mock.patch.object(microgpt.math, 'log', log):
                self.assertTrue(microgpt.left_the_floats(raised(microgpt.Value(0.0).log)))

    def test_an_overflow_left_the_floats(self):
        self.assertTrue(microgpt.left_the_floats(raised(microgpt.Value(1000.0).exp)))

    def test_a_value_error_raised_outside_the_operations_of_value_did_not(self):
        def plain():
            raise ValueError('math domain error')
        tokenizer = microgpt.build_tokenizer(['ab'])
        self.assertFalse(microgpt.left_the_floats(raised(plain)))
        self.assertFalse(microgpt.left_the_floats(raised(lambda: microgpt.encode('z', tokenizer))))

    def test_a_domain_error_after_a_finite_loss_is_a_divergence(self):
        steps = iter([3.0])
        def train_step(*args):  # a finite loss, then the log of a probability of 0
            return next(steps, None) or microgpt.Value(0.0).log()
        with mock.patch.object(microgpt, 'train_step', train_step):
            status, _, stderr = run_main('--n_embd=4', '--n_head=1', '--num_steps=3')
        self.assertEqual(status, 2)
        self.assertIn("training diverged at step 2 (a number fell outside a function's domain)",
                      stderr)

    def test_a_domain_error_at_the_first_step_is_the_code_s_own_and_raised(self):
        with mock.patch.object(microgpt, 'train_step', side_effect=ValueError('math domain error')), \
                self.assertRaises(ValueError):
            run_main('--n_embd=4', '--n_head=1', '--num_steps=3')

    def test_any_other_error_after_a_finite_loss_is_raised_as_it_is(self):
        with mock.patch.object(microgpt, 'train_step', side_effect=[3.0, ValueError('a bug')]), \
                self.assertRaises(ValueError):
            run_main('--n_embd=4', '--n_head=1', '--num_steps=3')


class TheResumeCommand(unittest.TestCase):
    def config(self, **changes):
        defaults = {name: option.default for name, option in microgpt.OPTIONS.items()}
        return SimpleNamespace(**{**defaults, 'save': 'ck.json', 'reseed': None, **changes})

    def test_sampling_options_at_their_defaults_are_left_out_and_others_kept_even_0(self):
        words = microgpt.resume_command(self.config(num_samples=0)).split()
        self.assertIn('--num_samples=0', words)
        self.assertFalse([w for w in words if w.startswith(('--temperature', '--prompt'))], words)

    def test_on_windows_it_is_quoted_for_cmd_exe(self):
        with mock.patch.object(microgpt.os, 'name', 'nt'):
            command = microgpt.resume_command(self.config(save='C:\\runs\\a b.json'))
        self.assertIn('"--load=C:\\runs\\a b.json"', command)

    def test_pasted_into_a_posix_shell_it_gives_back_every_word(self):
        bash = shutil.which('bash')
        if not bash:
            self.skipTest('needs bash')
        for save in ("it's.json", 'a b.json', 'back\\slash.json', 'zoë.json', '$HOME;x.json'):
            with self.subTest(save=save):
                command = microgpt.resume_command(self.config(save=save))
                got = subprocess.run([bash, '-c', 'printf "%s\\n" ' + command],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=10)
                self.assertEqual(got.stdout.decode().split('\n')[2:4],
                                 ['--load=' + save, '--save=' + save])


HELD = re.compile(r'^step +(\d+) / +(\d+) \| held-out loss \S+ on \d+ documents?; '
                  r'training loss \S+ \(mean of the last (\d+) steps?\)$')


class HeldOutLines(ProgramTestCase):
    def test_the_held_out_loss_is_shown_after_every_tenth_of_the_steps_rounded_up(self):
        steps = 15
        tenth = math.ceil(steps / 10)  # as the curve of --report: 2 steps
        stdout = self.assertRanWell(run_main('--input', self.names, *TINY, f'--num_steps={steps}',
                                             '--holdout=1'))
        shown = [(int(m[1]), int(m[3])) for m in map(HELD.match, lines_of(stdout)) if m]
        self.assertEqual(shown, [(step, tenth) for step in range(tenth, steps, tenth)])


    def test_one_held_out_document_is_one_document(self):
        stdout = self.assertRanWell(run_main('--input', self.names, *TINY, '--num_steps=2',
                                             '--holdout=1'))
        final = [line for line in lines_of(stdout) if line.startswith('held-out loss')]
        self.assertEqual(len(final), 1, stdout)
        self.assertIn(' on 1 document; ', final[0])

    def test_no_steps_show_no_held_out_line(self):
        stdout = self.assertRanWell(run_main('--input', self.names, *TINY, '--num_steps=0',
                                             '--holdout=1'))
        self.assertNotIn('held-out loss', stdout)


class SizeOfACheckpoint(CheckpointTestCase):
    def test_reading_a_checkpoint_asks_for_no_more_memory_than_it_takes(self):
        # a file the program trained and saved is never refused for its size
        with mock.patch.object(microgpt, 'memory_here', return_value=1):
            microgpt.read_checkpoint(self.ck_path)

    def test_a_file_too_big_for_the_memory_to_parse_is_refused_in_one_line(self):
        with mock.patch.object(microgpt.json, 'loads', side_effect=MemoryError), \
                self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(self.ck_path)
        self.assertIn('too big for the memory here', str(caught.exception))


class Memory(unittest.TestCase):
    def test_the_soft_limit_on_memory_is_the_one_that_counts(self):
        import resource
        soft, unlimited = 2 ** 20, resource.RLIM_INFINITY  # far below any machine's memory
        limits = {resource.RLIMIT_AS: (soft, unlimited), resource.RLIMIT_DATA: (unlimited,) * 2}
        with mock.patch.object(resource, 'getrlimit', side_effect=limits.get):
            self.assertEqual(microgpt.memory_here(), soft)


class Saving(CheckpointTestCase):
    def test_the_stop_signals_wait_while_the_file_is_written_and_not_after(self):
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        blocked, real_replace = [], os.replace
        def replace(*args):
            blocked.extend(signal.pthread_sigmask(signal.SIG_BLOCK, []))
            return real_replace(*args)
        with mock.patch.object(microgpt.os, 'replace', side_effect=replace):
            microgpt.save(os.path.join(self.tmp, 'written.json'),
                          microgpt.checkpoint_text(self.ck()))
        self.assertTrue(set(microgpt.STOP_SIGNALS) <= set(blocked), blocked)
        self.assertEqual(signal.pthread_sigmask(signal.SIG_BLOCK, []), before)

    def test_a_write_that_cannot_start_leaves_the_signals_as_they_were(self):
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        with self.assertRaises(OSError):
            microgpt.write_whole(os.path.join(self.tmp, 'no folder', 'x.json'), b'{}')
        self.assertEqual(signal.pthread_sigmask(signal.SIG_BLOCK, []), before)

    def test_a_save_that_fails_at_the_end_exits_with_status_1(self):
        missing = os.path.join(self.tmp, 'removed folder', 'ck.json')
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as caught:
            microgpt.save(missing, self.ck())
        self.assertEqual(caught.exception.code, 1)
        self.assertTrue(err.getvalue().startswith('microgpt.py: error: could not save'))

    def test_ctrl_c_saves_the_last_finished_step(self):
        real_train_step, stop_after, done = microgpt.train_step, 2, []
        def train_step(*args):  # Ctrl-C just as the step after stop_after begins
            if len(done) == stop_after:
                raise KeyboardInterrupt
            done.append(args[1])
            return real_train_step(*args)
        save = os.path.join(self.tmp, 'stopped.json')
        with mock.patch.object(microgpt, 'train_step', side_effect=train_step):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', save)
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        self.assertIn(f'step {stop_after} of 5 is saved', stderr)
        with open(save, encoding='utf-8') as f:
            self.assertEqual(json.load(f)['step'], stop_after)


class Resuming(CheckpointTestCase):
    def test_a_run_resumed_on_a_copy_of_its_dataset_records_the_copy(self):
        copy = os.path.join(self.tmp, 'copy of names.txt')
        shutil.copy(self.names, copy)
        new = os.path.join(self.tmp, 'resumed.json')
        self.assertRanWell(run_main('--load', self.ck_path, '--input', copy, '--save', new))
        with open(new, encoding='utf-8') as f:
            self.assertEqual(json.load(f)['dataset']['path'], os.path.abspath(copy))

    def test_sampling_a_checkpoint_with_save_writes_the_same_checkpoint(self):
        new = os.path.join(self.tmp, 'sampled.json')
        self.assertRanWell(run_main('--load', self.ck_path, '--num_steps=0', '--save', new))
        with open(new, encoding='utf-8') as f:
            self.assertSame(f.read(), self.ck_text, 'the checkpoint written')


class Sampling(CheckpointTestCase):
    def test_seed_0_with_load_draws_the_samples_of_seed_0(self):
        stdout = self.assertRanWell(run_main('--load', self.ck_path, '--num_steps=0', '--seed=0'))
        run = microgpt.read_checkpoint(self.ck_path)
        config = SimpleNamespace(**{**vars(microgpt.settings), **run['settings']})
        random.seed(0)
        want = [microgpt.sample(run['state_dict'], run['tokenizer'], config)
                for _ in range(config.num_samples)]
        got = [line.split(': ', 1)[1] for line in lines_of(stdout) if line.startswith('sample ')]
        self.assertEqual(got, want)

    def test_the_resume_command_keeps_a_seed_of_0(self):
        config = SimpleNamespace(**{name: option.default for name, option in microgpt.OPTIONS.items()})
        config.save, config.reseed = 'ck.json', 0
        self.assertIn('--seed=0', microgpt.resume_command(config).split())


class Scores(CheckpointTestCase):
    """Sampling stops at scores that are not finite numbers, in one line that says whose."""
    def sample(self, *args, gpt=None):
        with mock.patch.object(microgpt, 'gpt', side_effect=gpt or microgpt.gpt):
            return run_main('--load', self.ck_path, '--num_samples=2', *args)

    @unittest.skipIf(sys.version_info < (3, 10), 'before 3.10, random.choices() draws from '
                     'scores that are not finite without a word, and the program cannot tell')
    def test_scores_that_overflow_at_any_position_stop_a_loaded_run_blaming_its_file(self):
        real = microgpt.gpt
        def gpt(token_id, pos_id, *rest):  # finite at the first position, not at the second
            logits = real(token_id, pos_id, *rest)
            return logits[:-1] + [microgpt.Value(math.inf)] if pos_id == 1 else logits
        stderr = self.assertRefused(self.sample('--num_steps=0', gpt=gpt), self.ck_path)
        self.assertNotIn('learning_rate', stderr)
        self.assertIn('not finite', stderr)

    def test_after_training_such_scores_are_a_divergence(self):
        ck = self.ck()
        ck['settings']['num_steps'] = self.STEPS + 1
        path = self.write('more.json', json.dumps(ck))
        nan = lambda *args: [microgpt.Value(math.nan)]  # noqa: E731
        with mock.patch.object(microgpt, 'gpt', side_effect=nan), \
                mock.patch.object(microgpt, 'train_step', return_value=2.5):
            result = run_main('--load', path)
        self.assertIn('training diverged', self.assertRefused(result, 'learning_rate'))

    def test_scores_that_overflow_only_when_divided_by_the_temperature_blame_it(self):
        big = lambda *args: [microgpt.Value(1e300), microgpt.Value(1.0)]  # noqa: E731
        stderr = self.assertRefused(self.sample('--num_steps=0', '--temperature=1e-10', gpt=big),
                                    '--temperature=1e-10', 'nearer 1')
        self.assertNotIn(self.ck_path, stderr)

    def test_nothing_is_checked_when_nothing_is_sampled(self):
        with mock.patch.object(microgpt, 'gpt', side_effect=AssertionError('gpt was called')):
            status, _, stderr = run_main('--load', self.ck_path, '--num_steps=0', '--num_samples=0')
        self.assertEqual((status, stderr), (0, ''))


class Gradcheck(ProgramTestCase):
    def test_a_zero_derivative_of_a_flat_function_is_no_disagreement(self):
        flat = lambda: microgpt.Value(1.0)  # noqa: E731
        self.assertEqual(microgpt.disagreement(0.0, flat, [microgpt.Value(0.5)], [1], 1e-6), 0.0)

    def test_relu_is_compared_on_its_flat_side_too(self):
        errors = microgpt.op_errors(microgpt.Value.relu)
        self.assertEqual(len(errors), 5)  # each of op_errors' points, both sides of 0

    def test_a_function_that_gives_no_value_is_no_operation(self):
        self.assertIsNone(microgpt.op_errors(lambda a: str(a)))

    def gradcheck_with(self, name, operation):
        """gradcheck() of a tiny model, with a new operation added to Value: (status, stdout)."""
        setattr(microgpt.Value, name, operation)
        self.addCleanup(delattr, microgpt.Value, name)
        random.seed(0)
        config = SimpleNamespace(**{**vars(microgpt.settings), 'n_embd': 4, 'n_head': 1,
                                    'block_size': 8})
        tokenizer = microgpt.build_tokenizer(DOCS)
        state_dict = microgpt.init_state_dict(tokenizer.vocab_size, config)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = microgpt.gradcheck(DOCS, tokenizer, state_dict, config)
        return status, out.getvalue()

    def test_an_operation_that_fails_on_every_input_is_wrong(self):
        def broken(self):
            raise ValueError('never works')
        status, stdout = self.gradcheck_with('broken', broken)
        self.assertEqual(status, 1)
        self.assertIn('disagree: Value.broken', stdout)

    def test_a_wrong_derivative_of_the_second_operand_is_wrong(self):
        def plus(self, other):
            other = other if isinstance(other, microgpt.Value) else microgpt.Value(other)
            return microgpt.Value(self.data + other.data, (self, other), (1, 2))
        status, stdout = self.gradcheck_with('plus', plus)
        self.assertEqual(status, 1)
        self.assertIn('disagree: Value.plus', stdout)

    def test_a_derivative_that_is_not_a_number_is_wrong(self):
        def odd(self):
            return microgpt.Value(self.data, (self,), (math.nan,))
        status, stdout = self.gradcheck_with('odd', odd)
        self.assertEqual(status, 1)
        self.assertIn('disagree: Value.odd', stdout)

    def test_the_runs_random_generator_is_left_as_it_was(self):
        config = SimpleNamespace(**{**vars(microgpt.settings), 'n_embd': 4, 'n_head': 1})
        tokenizer = microgpt.build_tokenizer(DOCS)
        state_dict = microgpt.init_state_dict(tokenizer.vocab_size, config)
        before = random.getstate()
        with contextlib.redirect_stdout(io.StringIO()):
            microgpt.gradcheck(DOCS, tokenizer, state_dict, config)
        self.assertEqual(random.getstate(), before)

    def test_a_small_slope_is_measured_against_the_size_of_the_gradient(self):
        weight = microgpt.Value(0.5)
        slope = lambda: weight * 1e-9  # noqa: E731: its slope is 1e-9, far below scale 1
        self.assertLess(microgpt.disagreement(1.001e-9, slope, [weight], [1], 1e-6, 1.0), 1e-6)
        self.assertGreater(microgpt.disagreement(1.001e-9, slope, [weight], [1], 1e-6), 1e-6)

    def test_a_derivative_off_by_one_part_in_100000_is_wrong(self):  # the tolerance is 1e-6
        def doubled(self):
            return microgpt.Value(2 * self.data, (self,), (2 * (1 + 1e-5),))
        status, stdout = self.gradcheck_with('doubled', doubled)
        self.assertEqual(status, 1)
        self.assertIn('disagree: Value.doubled', stdout)


class Output(ProgramTestCase):
    def test_a_reader_that_stops_early_ends_the_run_with_status_1_and_one_line(self):
        proc = subprocess.Popen([sys.executable, SCRIPT, '--input', self.names, *TINY,
                                 '--num_steps=0', '--num_samples=100000'],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read()
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        self.assertEqual((status, err), (1, b'microgpt.py: error: cannot write the output '
                                            b'(Broken pipe)\n'))


if __name__ == '__main__':
    unittest.main()
