"""Careless one-line edits of the program part that the rest of the suite let
through (found by a mutation run): each test pins one behaviour that such an edit
breaks. They call main() or one of its helpers in this process on a tiny model,
or start an interpreter for a moment (the script's signal handlers, bash for a
quoted word), so that the module runs in about a second."""
import argparse
import contextlib
import io
import json
import math
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest
from types import SimpleNamespace
from unittest import mock

import microgpt
from tests.harness import SCRIPT, run_main

TINY = ['--n_embd=4', '--n_head=1', '--block_size=8', '--num_samples=2']
DOCS = ['anna', 'bob', 'carl', 'dave', 'emma', 'finn', 'gus', 'hana']


class Folder(unittest.TestCase):
    """A folder of its own for the class, with a small dataset in it."""
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

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assertRanWell(self, result):
        status, stdout, stderr = result
        self.assertEqual((status, stderr), (0, ''), stdout[-300:])
        return stdout

    def assertRefused(self, result, *words):
        status, _, stderr = result
        self.assertEqual(status, 2, stderr)
        self.assertTrue(stderr.startswith('microgpt.py: error:'), stderr)
        self.assertEqual(len(stderr.splitlines()), 1, stderr)
        for word in words:
            self.assertIn(word, stderr)
        return stderr


class CheckpointFolder(Folder):
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

    def with_random_state(self, change):
        ck = self.ck()
        change(ck['random_state'])
        return ck


# 1. What a checkpoint may hold: each field that --save never gets wrong, checked anyway

class TheGeneratorsStateInACheckpoint(CheckpointFolder):
    """random_state: [3, 625 words of 32 bits the last of which is an index up to 624,
    a gaussian in hand or null], as random.getstate() gives it through JSON."""
    def test_the_unchanged_state_is_taken(self):  # the control of the tests below
        self.assertEqual(microgpt.rebuild(self.ck())['random_state'][1],
                         tuple(self.ck()['random_state'][1]))

    def test_a_state_of_four_items_is_refused(self):
        self.assertRebuildRefuses(self.with_random_state(lambda s: s.append(None)), 'random_state')

    def test_a_state_of_version_3_written_as_a_float_is_refused(self):
        self.assertRebuildRefuses(self.with_random_state(lambda s: s.__setitem__(0, 3.0)),
                                  'random_state')

    def test_a_state_of_version_2_is_refused(self):
        self.assertRebuildRefuses(self.with_random_state(lambda s: s.__setitem__(0, 2)),
                                  'random_state')

    def test_a_state_of_626_words_is_refused(self):
        self.assertRebuildRefuses(self.with_random_state(lambda s: s[1].insert(0, 1)),
                                  'random_state')

    def test_a_word_of_2_to_the_32_is_refused(self):  # the least that 32 bits cannot hold
        self.assertRebuildRefuses(self.with_random_state(lambda s: s[1].__setitem__(0, 2**32)),
                                  'random_state')

    def test_a_word_that_is_a_float_is_refused(self):
        self.assertRebuildRefuses(self.with_random_state(lambda s: s[1].__setitem__(0, 1.0)),
                                  'random_state')

    def test_an_index_of_625_is_refused(self):  # 624 is the largest the generator has
        self.assertRebuildRefuses(self.with_random_state(lambda s: s[1].__setitem__(-1, 625)),
                                  'random_state')

    def test_an_infinite_gaussian_in_hand_is_refused(self):  # 1e400 in JSON reads as inf
        self.assertRebuildRefuses(self.with_random_state(lambda s: s.__setitem__(2, math.inf)),
                                  'random_state')


class TheEntriesOfACheckpoint(CheckpointFolder):
    def test_settings_that_are_a_list_of_the_setting_names_are_refused(self):
        ck = self.ck()
        ck['settings'] = sorted(ck['settings'])
        self.assertRebuildRefuses(ck, 'settings are not a JSON object')

    def test_a_checkpoint_lacking_any_one_setting_is_refused_by_its_name(self):
        for name in microgpt.SAVED_SETTINGS:
            with self.subTest(name):
                ck = self.ck()
                del ck['settings'][name]
                self.assertRebuildRefuses(ck, f'lacks the setting {name!r}')

    def test_true_for_a_whole_number_setting_is_refused_for_its_type(self):
        ck = self.ck()
        ck['settings']['n_layer'] = True  # bool is an int to isinstance(), not to JSON
        self.assertRebuildRefuses(ck, 'its n_layer is True, not of type int')

    def test_a_step_of_true_is_refused(self):  # with one loss, true would pass for step 1
        ck = self.ck()
        ck['step'], ck['losses'] = True, ck['losses'][:1]
        self.assertRebuildRefuses(ck, 'is not a step of its run')

    def test_a_step_of_minus_1_is_refused_as_no_step(self):
        ck = self.ck()
        ck['step'] = -1
        self.assertRebuildRefuses(ck, 'its step, -1, is not a step of its run')


class TheDatasetAndVocabOfACheckpoint(CheckpointFolder):
    def test_a_dataset_with_an_entry_more_is_refused(self):
        ck = self.ck()
        ck['dataset']['size'] = 1
        self.assertRebuildRefuses(ck, 'dataset is not described')

    def test_a_dataset_without_a_digest_is_refused(self):  # --save always writes one
        ck = self.ck()
        ck['dataset']['sha256'] = None
        self.assertRebuildRefuses(ck, 'dataset is not described')

    def test_a_number_of_documents_written_as_text_is_refused(self):
        ck = self.ck()
        ck['dataset']['num_docs'] = str(ck['dataset']['num_docs'])
        self.assertRebuildRefuses(ck, 'dataset is not described')

    def test_a_dataset_that_is_a_list_of_the_entry_names_is_refused(self):
        ck = self.ck()
        ck['dataset'] = sorted(ck['dataset'])
        self.assertRebuildRefuses(ck, 'dataset is not described')

    def test_a_vocab_holding_a_tab_is_refused(self):  # sorted, distinct, of the same length
        ck = self.ck()
        ck['vocab'] = '\t' + ck['vocab'][1:]
        self.assertRebuildRefuses(ck, 'vocab')

    def test_a_vocab_that_is_a_list_of_its_characters_is_refused(self):
        ck = self.ck()
        ck['vocab'] = list(ck['vocab'])
        self.assertRebuildRefuses(ck, 'vocab')


class BracketsOfACheckpoint(Folder):
    def test_a_bracket_inside_a_key_is_text_not_nesting(self):
        path = self.write('key.json', '{"[": 1}')
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(path)
        self.assertEqual(str(caught.exception), 'it is not a microgpt checkpoint')

    def test_lists_nested_four_deep_as_a_checkpoint_s_rows_are_not_refused_for_nesting(self):
        path = self.write('four.json', '[[[[1]]]]')
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(path)
        self.assertEqual(str(caught.exception), 'it is not a microgpt checkpoint')


class TheMatricesOfACheckpoint(CheckpointFolder):
    def test_a_row_written_as_a_string_of_as_many_letters_is_refused_as_no_row(self):
        ck = self.ck()
        rows = ck['state_dict']['wte']
        rows[0] = 'x' * len(rows[0])
        self.assertRebuildRefuses(ck, f'its wte is not the {len(rows)} x {len(rows[1])} matrix')

    def test_a_matrix_with_a_row_too_many_is_refused(self):
        for name in self.ck()['state_dict']:  # each matrix of the model, whatever it holds
            with self.subTest(name):
                ck = self.ck()
                rows = ck['state_dict'][name]
                rows.append(rows[0])
                self.assertRebuildRefuses(ck, f'its {name} is not the {len(rows) - 1} x '
                                              f'{len(rows[0])} matrix')

    def test_a_matrix_written_as_a_number_is_refused(self):
        ck = self.ck()
        ck['state_dict']['lm_head'] = 0.5
        self.assertRebuildRefuses(ck, 'its lm_head is not the')

    def test_a_state_dict_that_is_a_list_is_refused_as_no_json_object(self):
        ck = self.ck()
        ck['state_dict'] = list(ck['state_dict'].values())
        self.assertRebuildRefuses(ck, 'state_dict is not a JSON object')

    def test_of_several_unknown_matrices_the_first_in_sorted_order_is_named(self):
        ck = self.ck()
        for name in ('zeta', 'alpha', 'mu'):
            ck['state_dict'][name] = [[0.5]]
        self.assertRebuildRefuses(ck, "holds 'alpha', which its model has not")


class TheNumbersOfACheckpoint(CheckpointFolder):
    def test_whole_numbers_are_read_as_floats(self):  # JSON 2 for 2.0: the same number
        ck = self.ck()
        ck['losses'] = [round(x) for x in ck['losses']]
        ck['state_dict']['wte'][0][0] = 0
        run = microgpt.rebuild(ck)
        self.assertEqual({type(x) for x in run['losses']}, {float})
        self.assertIs(type(run['state_dict']['wte'][0][0].data), float)

    def test_losses_written_as_one_number_are_refused(self):
        ck = self.ck()
        ck['losses'] = 2.5
        self.assertRebuildRefuses(ck, f'its losses are not {self.STEPS} numbers')

    def test_empty_adam_buffers_are_refused(self):
        ck = self.ck()
        ck['adam_m'], ck['adam_v'] = [], []
        self.assertRebuildRefuses(ck, 'adam_m and adam_v are not')

    def test_the_least_negative_second_moment_is_refused(self):
        ck = self.ck()
        ck['adam_v'][0] = -5e-324
        self.assertRebuildRefuses(ck, 'adam_v holds a negative number')


# 2. Signals: the first stops the run, later ones wait; a signal ignored at the start stays so

class Signals(unittest.TestCase):
    def stop(self, signum):
        """stop_on_signal() as the first signal calls it: the KeyboardInterrupt it raises."""
        for each in microgpt.STOP_SIGNALS:
            self.addCleanup(signal.signal, each, signal.getsignal(each))
        self.addCleanup(signal.pthread_sigmask, signal.SIG_SETMASK,
                        signal.pthread_sigmask(signal.SIG_BLOCK, []))
        with self.assertRaises(KeyboardInterrupt) as caught:
            microgpt.stop_on_signal(signum, None)
        return caught.exception

    def test_the_first_stop_signal_stops_the_run_naming_itself(self):
        self.assertEqual(self.stop(signal.SIGHUP).args, (signal.SIGHUP,))

    def test_after_the_first_stop_signal_every_stop_signal_waits(self):
        self.stop(signal.SIGINT)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        self.assertLessEqual(set(microgpt.STOP_SIGNALS), blocked)

    def test_after_the_first_stop_signal_every_stop_signal_does_nothing(self):
        self.stop(signal.SIGTERM)
        for signum in microgpt.STOP_SIGNALS:
            with self.subTest(signal.Signals(signum).name):
                handler = signal.getsignal(signum)
                self.assertTrue(callable(handler), handler)  # neither the default nor SIG_IGN
                self.assertIsNone(handler(signum, None))  # no KeyboardInterrupt: the save goes on

    def handlers_once_started(self, ignored=()):
        """The script's handler of SIGHUP, SIGINT and SIGTERM while it runs (on --help), and
        after it has run, when it was started with the signals `ignored` ignored."""
        code = textwrap.dedent('''
            import runpy, signal, sys
            ignored = [int(s) for s in sys.argv[2:]]
            for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)
            def handler(signum):
                h = signal.getsignal(signum)
                names = {signal.SIG_IGN: 'ignored', signal.SIG_DFL: 'default'}
                return names.get(h, getattr(h, '__name__', h))
            def during(*args):  # --help prints its text while the script runs
                print(handler(signal.SIGHUP), handler(signal.SIGINT), handler(signal.SIGTERM),
                      file=sys.stderr)
            import argparse
            argparse.ArgumentParser.format_help = during
            sys.argv = [sys.argv[1], '--help']
            try:
                runpy.run_path(sys.argv[0], run_name='__main__')
            except SystemExit:
                pass
            print(handler(signal.SIGHUP), handler(signal.SIGINT), handler(signal.SIGTERM),
                  file=sys.stderr)
        ''')
        args = [str(int(signum)) for signum in ignored]
        result = subprocess.run([sys.executable, '-c', code, SCRIPT, *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, timeout=60)
        during, after = result.stderr.decode().splitlines()
        return during.split(), after.split()

    def test_the_script_handles_every_stop_signal_while_it_runs(self):
        self.assertEqual(self.handlers_once_started()[0], ['stop_on_signal'] * 3)

    def test_the_script_leaves_the_handlers_as_it_found_them_as_jupyters_run_needs(self):
        self.assertEqual(self.handlers_once_started()[1], ['default'] * 3)

    def test_the_script_leaves_a_signal_ignored_as_nohup_does(self):
        self.assertEqual(self.handlers_once_started([signal.SIGHUP])[0],
                         ['ignored', 'stop_on_signal', 'stop_on_signal'])


class OptionsWithLoad(CheckpointFolder):
    def test_a_model_option_with_load_is_refused_without_the_num_steps_hint(self):
        stderr = self.assertRefused(run_main('--load', self.ck_path, '--n_embd=8'),
                                    f'--n_embd comes from {self.ck_path} (which says 4)')
        self.assertTrue(stderr.rstrip('\n').endswith('; leave it out'), stderr)


# 3. Limits: the figures of their messages, and the files too big to parse

class Limits(Folder):
    def refusal_under(self, memory, *args):
        with mock.patch.object(microgpt, 'memory_here', return_value=memory):
            return run_main('--input', self.names, '--n_head=1', '--num_steps=1', *args)

    def test_each_size_setting_beyond_the_memory_in_bytes_is_refused_by_its_name(self):
        for name in ('n_layer', 'n_embd', 'block_size'):
            with self.subTest(name):
                self.assertRefused(run_main('--input', self.names, '--n_head=1',
                                            f'--{name}={10 ** 30}'),
                                   f'--{name}={10 ** 30} is more than the')

    def test_the_memory_here_is_said_in_gib_rounded_to_the_nearest(self):
        for memory, shown in ((2**30 + 2**29, '2'), (2**30 + 2**29 - 1, '1')):
            with self.subTest(memory=memory):
                self.assertRefused(self.refusal_under(memory, '--n_embd=4096'),
                                   f'more than the {shown} GiB here')

    def test_a_thousand_gib_and_more_are_said_with_commas(self):
        self.assertRefused(self.refusal_under(1500 * 2**30, '--n_embd=100000'),
                           'more than the 1,500 GiB here')

    def test_a_whole_number_longer_than_python_reads_is_refused_as_no_whole_number(self):
        digits = '1' * (microgpt.LONGEST_NUMBER + 1)
        self.assertRefused(run_main('--input', self.names, *TINY, f'--seed={digits}'),
                           '--seed: invalid whole number value')



# 4. Stopped and resumed: the message, the resume command

class TheResumeCommand(Folder):
    def resume_words(self, *args):
        config, _ = microgpt.configure(['--input', self.names, '--save', self.path('r.json'),
                                        *args])
        with mock.patch.object(sys, 'argv', ['microgpt.py']):  # as the script is started
            return shlex.split(microgpt.resume_command(config))

    def test_it_starts_with_the_interpreter_s_name_and_the_script(self):
        self.assertEqual(self.resume_words()[:2],
                         [os.path.basename(sys.executable), 'microgpt.py'])

    def test_it_loads_and_saves_the_checkpoint_by_the_name_given(self):
        words = self.resume_words()
        self.assertEqual(words[2:4],
                         ['--load=' + self.path('r.json'), '--save=' + self.path('r.json')])

    def test_a_prompt_is_kept(self):
        self.assertIn('--prompt=an', self.resume_words('--prompt=an'))

    def test_report_is_kept(self):
        self.assertIn('--report', self.resume_words('--report'))

    def test_a_sampling_option_given_at_its_default_is_left_out(self):
        words = self.resume_words(f'--temperature={microgpt.settings.temperature}')
        self.assertFalse([w for w in words if w.startswith('--temperature')], words)


class Interrupted(Folder):
    def test_a_stop_by_sigterm_says_so_and_exits_with_its_number(self):
        with mock.patch.object(microgpt, 'train_step',
                               side_effect=[2.5, KeyboardInterrupt(signal.SIGTERM)]):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', self.path('term.json'))
        self.assertEqual(status, 128 + signal.SIGTERM, stderr)
        self.assertTrue(stderr.startswith('microgpt.py: interrupted by SIGTERM; step 1 of 5 '),
                        stderr)

    def test_a_stop_while_a_step_is_being_checkpointed_names_the_step_saved(self):
        real, calls = microgpt.checkpoint, []
        def checkpoint(run, config):  # the first call is before training, the third after step 2
            calls.append(run['step'])
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(run, config)
        save = self.path('stopped.json')
        with mock.patch.object(microgpt, 'checkpoint', side_effect=checkpoint):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', save)
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        with open(save, encoding='utf-8') as f:
            self.assertEqual(json.load(f)['step'], 1)
        self.assertIn('; step 1 of 5 is saved in ', stderr)


# 5. The dataset and the --save file: what is refused before any work

class Datasets(Folder):
    def test_a_file_of_one_letter_and_no_line_end_is_a_dataset_of_one_document(self):
        path = self.write('one.txt', 'a')
        stdout = self.assertRanWell(run_main('--input', path, *TINY, '--num_steps=1'))
        self.assertIn('num docs: 1\n', stdout)

    def test_of_several_unprintable_characters_the_first_in_order_is_named(self):
        path = self.write('controls.txt', 'an\x02na\nbo\x01b\n')
        self.assertRefused(run_main('--input', path, *TINY), "holds '\\x01', a character")

    def test_a_link_to_nothing_is_refused_as_missing(self):
        link = self.path('dangling.txt')
        os.symlink(self.path('nowhere.txt'), link)
        self.assertRefused(run_main('--input', link, *TINY), 'does not exist')


class SaveNames(CheckpointFolder):
    def test_a_name_longer_in_bytes_than_the_system_allows_is_refused_before_training(self):
        longest = os.pathconf(self.tmp, 'PC_NAME_MAX')
        name = '\u4e2d' * (longest // 3 + 1)  # 3 bytes each in UTF-8: fewer characters than that
        self.assertLess(len(name), longest)
        with mock.patch.object(microgpt, 'train_step', side_effect=AssertionError('trained')):
            self.assertRefused(run_main('--input', self.names, *TINY, '--num_steps=1',
                                        '--save', self.path(name)),
                               'cannot be written (')

    def test_a_name_ending_in_a_slash_is_refused_as_a_folder(self):
        save = self.path('newdir') + os.sep
        self.assertRefused(run_main('--input', self.names, *TINY, '--num_steps=1', '--save', save),
                           'names a folder')
        self.assertFalse(os.path.exists(self.path('newdir')))

    def test_a_checkpoint_whose_dataset_is_gone_is_sampled_and_saved_over_itself(self):
        gone = self.write('gone.txt', '\n'.join(DOCS) + '\n')
        ck = self.path('gone.json')
        self.assertRanWell(run_main('--input', gone, *TINY, '--num_steps=1', '--save', ck))
        os.remove(gone)
        self.assertRanWell(run_main('--load', ck, '--num_steps=0', '--save', ck))


# 6. Training stopped: by a divergence, by a signal; a loaded run that is only sampled

class Training(CheckpointFolder):
    def unfinished(self, name, steps=5, stop_at=2):
        """A checkpoint saved when Ctrl-C stopped its run of `steps` at the start of step
        stop_at + 1, so that stop_at steps are whole."""
        real, done = microgpt.train_step, []
        def train_step(*args):
            if len(done) == stop_at:
                raise KeyboardInterrupt
            done.append(args[1])
            return real(*args)
        path = self.path(name)
        with mock.patch.object(microgpt, 'train_step', side_effect=train_step):
            status, _, stderr = run_main('--input', self.names, *TINY, f'--num_steps={steps}',
                                         '--save', path)
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        return path

    def test_a_divergence_names_the_learning_rate_of_the_run(self):
        with mock.patch.object(microgpt, 'train_step', side_effect=[3.0, math.inf]):
            result = run_main('--input', self.names, *TINY, '--num_steps=3',
                              '--learning_rate=0.25')
        self.assertRefused(result, 'training diverged at step 2',
                           'smaller --learning_rate than 0.25')

    def test_an_infinite_first_loss_of_a_loaded_run_blames_its_file(self):
        path = self.unfinished('at0.json', stop_at=0)
        with mock.patch.object(microgpt, 'train_step', return_value=math.inf):
            result = run_main('--load', path)
        stderr = self.assertRefused(result, f'the weights in {path} give numbers that are not '
                                            f'finite at step 1 (the loss is inf)')
        self.assertNotIn('learning_rate', stderr)

    def test_an_unfinished_checkpoint_only_sampled_is_saved_unchanged(self):
        path = self.unfinished('half.json')
        again = self.path('half again.json')
        self.assertRanWell(run_main('--load', path, '--num_steps=0', '--save', again))
        with open(path, encoding='utf-8') as before, open(again, encoding='utf-8') as after:
            self.assertEqual(after.read(), before.read())

    def test_a_stop_in_the_middle_of_an_update_saves_the_step_before_it(self):
        at_start = self.unfinished('at start.json')  # stopped before step 3 began
        real, done = microgpt.train_step, []
        def train_step(*args):  # step 3 moves the weights, then the signal lands
            loss = real(*args)
            done.append(args[1])
            if len(done) == 3:
                raise KeyboardInterrupt
            return loss
        midway = self.path('midway.json')
        with mock.patch.object(microgpt, 'train_step', side_effect=train_step):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', midway)
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        with open(at_start, encoding='utf-8') as want, open(midway, encoding='utf-8') as got:
            self.assertEqual(json.load(got), json.load(want))


# 7. Gradcheck: the steps it tries, the scale it measures against, what it differentiates

class Gradcheck(unittest.TestCase):
    def setUp(self):
        self.addCleanup(random.setstate, random.getstate())

    def matrix_error(self, loss, mat, least=0.0):
        """matrix_error() of one matrix under a loss, as gradcheck() measures it."""
        for p in (p for row in mat for p in row):
            p.grad = 0
        loss().backward()
        return microgpt.matrix_error(mat, loss, random.Random(0), 1e-6, least)

    def test_a_correct_gradient_that_only_the_largest_step_measures_well_agrees(self):
        # the loss is near 1e8, so rounding spoils every smaller step's difference quotient
        mat = [[microgpt.Value(0.5)]]
        loss = lambda: microgpt.Value(1e8) + mat[0][0]  # noqa: E731
        self.assertLess(self.matrix_error(loss, mat), 1e-6)

    def test_derivatives_swapped_between_weights_of_one_matrix_are_wrong(self):
        mat = [[microgpt.Value(0.1 * i) for i in range(8)]]
        slopes = [float(i + 1) for i in range(8)]
        def loss():  # the sum of slope * weight, with the derivatives given in reverse order
            weights = mat[0]
            return microgpt.Value(sum(c * w.data for c, w in zip(slopes, weights)),
                                  tuple(weights), tuple(reversed(slopes)))
        self.assertGreater(self.matrix_error(loss, mat), 1e-6)

    def test_a_matrix_of_a_small_gradient_is_measured_against_a_thousandth_of_the_model_s(self):
        state_dict = {'big': [[microgpt.Value(0.5)]], 'small': [[microgpt.Value(0.5)]]}
        def few_docs_loss(docs, tokenizer, state_dict, config):  # near 1e6: rounding at 1e-10
            return microgpt.total([microgpt.Value(1e6), state_dict['big'][0][0] * 1.0,
                                   state_dict['small'][0][0] * 1e-5])
        out = io.StringIO()
        with mock.patch.object(microgpt, 'few_docs_loss', few_docs_loss), \
                contextlib.redirect_stdout(out):
            status = microgpt.gradcheck([], None, state_dict, None)
        self.assertEqual(status, 0, out.getvalue())
        self.assertIn('  ok     loss along small', out.getvalue())

    def test_an_operation_whose_derivative_is_0_where_its_slope_is_not_is_wrong(self):
        def absolute(self):  # |a|, with the derivative of relu: 0 on the negative side
            return microgpt.Value(abs(self.data), (self,), (float(self.data > 0),))
        microgpt.Value.absolute = absolute
        self.addCleanup(delattr, microgpt.Value, 'absolute')
        config = SimpleNamespace(**{**vars(microgpt.settings), 'n_embd': 4, 'n_head': 1,
                                    'block_size': 8})
        tokenizer = microgpt.build_tokenizer(DOCS)
        random.seed(0)
        state_dict = microgpt.init_state_dict(tokenizer.vocab_size, config)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = microgpt.gradcheck(DOCS, tokenizer, state_dict, config)
        self.assertEqual(status, 1, out.getvalue())
        self.assertIn('disagree: Value.absolute', out.getvalue())

    def test_it_differentiates_the_loss_of_the_first_three_documents(self):
        config = SimpleNamespace(**{**vars(microgpt.settings), 'n_embd': 4, 'n_head': 1,
                                    'block_size': 8})
        tokenizer = microgpt.build_tokenizer(DOCS)
        random.seed(0)
        state_dict = microgpt.init_state_dict(tokenizer.vocab_size, config)
        want = math.fsum(microgpt.doc_loss(microgpt.encode(doc, tokenizer), state_dict,
                                           config).data for doc in DOCS[:3])
        got = microgpt.few_docs_loss(DOCS, tokenizer, state_dict, config).data
        self.assertAlmostEqual(got, want, places=12)


# 8. The instruments' lines: the held-out loss, the curve

class Instruments(Folder):
    def tiny_run(self, num_steps, step):
        """A new model's run at `step` of num_steps, each loss 2.0, and its settings."""
        config = SimpleNamespace(**{**vars(microgpt.settings), 'n_embd': 4, 'n_head': 1,
                                    'block_size': 8, 'num_steps': num_steps})
        tokenizer = microgpt.build_tokenizer(DOCS)
        self.addCleanup(random.setstate, random.getstate())
        random.seed(0)
        state_dict = microgpt.init_state_dict(tokenizer.vocab_size, config)
        return {'step': step, 'losses': [2.0] * step, 'tokenizer': tokenizer,
                'state_dict': state_dict}, config

    def test_the_interim_held_out_loss_takes_a_document_for_each_5_steps_of_a_tenth(self):
        run, config = self.tiny_run(200, 20)  # a tenth of 200 steps: 20, so 4 documents
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            microgpt.print_interim_loss(run, DOCS, config)
        self.assertIn(' on 4 documents; ', out.getvalue())

    def test_the_final_held_out_line_is_followed_by_the_samples_at_once(self):
        stdout = self.assertRanWell(run_main('--input', self.names, *TINY, '--num_steps=2',
                                             '--holdout=1'))
        lines = stdout.replace('\r', '\n').splitlines()
        final = [i for i, line in enumerate(lines) if line.startswith('held-out loss')]
        self.assertEqual(len(final), 1, lines)
        self.assertEqual(lines[final[0] + 1], '--- inference (new, hallucinated names) ---')

    def test_a_curve_of_11_losses_is_drawn_in_steps_of_2(self):  # a tenth of 11, rounded up
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            microgpt.print_curve([2.0] * 11)
        self.assertIn('the mean loss of each 2 steps', out.getvalue())
        self.assertIn('steps   11 -   11 | 2.0000', out.getvalue())

    def test_report_on_a_run_of_no_steps_shows_an_empty_curve(self):
        stdout = self.assertRanWell(run_main('--input', self.names, *TINY, '--num_steps=0',
                                             '--report'))
        self.assertIn('--- loss curve: the mean loss of each 1 steps ---\n', stdout)


if __name__ == '__main__':
    unittest.main()
