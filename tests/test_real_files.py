"""The program's defences never refuse a real file: whatever a dataset or a checkpoint
holds that a run of the program can make, or a hand may write, it is read, or refused in
one short line that says why; and nothing it reads changes what it writes or where."""
import argparse
import json
import math
import os
import sys
import unittest
from unittest import mock

import microgpt
from tests import harness
from tests.harness import TINY as SMALL, run_main


class Folder(harness.Folder):
    """A folder of its own for each test, and saved(): a checkpoint of a short run there."""
    FOR_EACH_TEST = True

    def saved(self):
        """A checkpoint of a short run, as JSON, and its path."""
        ck = self.path('ck.json')
        self.assertRanWell(run_main('--input', self.names, *SMALL, '--num_steps=3', '--save', ck))
        return self.read_json('ck.json'), ck


class RealFiles(Folder):
    def test_unpaired_brackets_in_a_dataset_and_its_name_save_load_and_save_again(self):
        names = self.write('names[old.txt', 'an[na\nbo}b\ncarl\n')
        ck = self.path('ck[1.json')
        self.assertRanWell(run_main('--input', names, *SMALL, '--num_steps=2', '--save', ck))
        self.assertRanWell(run_main('--load', ck, '--num_steps=0', '--save', ck))
        with open(ck, encoding='utf-8') as f:
            ck_text = f.read()  # and on to a longer run, as if stopped halfway
        self.write('ck[1.json', ck_text.replace('"num_steps": 2', '"num_steps": 4'))
        self.assertIn('step    4 /    4', self.assertRanWell(run_main('--load', ck, '--save', ck)))

    def test_a_setting_of_2500_digits_is_refused_in_a_short_line(self):
        ck, path = self.saved()
        ck['settings']['n_embd'] = 10 ** 2500
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(ck, f)
        status, _, stderr = run_main('--load', path, '--num_steps=0')
        self.assertEqual(status, 2)
        self.assertLess(len(stderr), 300)

    def test_losses_as_large_as_a_float_holds_show_their_curve(self):
        ck, path = self.saved()
        ck['losses'] = [1.7e308] * len(ck['losses'])
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(ck, f)
        stdout = self.assertRanWell(run_main('--load', path, '--num_steps=0', '--report'))
        self.assertEqual(stdout.count('| 1699999999'), len(ck['losses']))

    def test_a_negative_loss_is_refused(self):
        ck, path = self.saved()
        ck['losses'][0] = -0.5
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.rebuild(ck)
        self.assertIn('negative', str(caught.exception))

    def test_a_file_the_program_saved_loads_with_no_more_memory_than_its_size(self):
        _, path = self.saved()  # parsing JSON takes many times the file's size
        with mock.patch.object(microgpt, 'memory_here', return_value=os.path.getsize(path)):
            self.assertRanWell(run_main('--load', path, '--num_steps=0'))


if __name__ == '__main__':
    unittest.main()


class NothingUnloadableIsWritten(Folder):
    def test_weights_that_turn_to_nan_after_the_last_finite_loss_are_a_divergence(self):
        names = self.names
        ck = self.path('x.json')

        def nan_weights(docs, step, tokenizer, state_dict, m, v, config):  # a finite loss,
            for row in state_dict[next(iter(state_dict))]:                  # then no weights
                row[0].data = float('nan')
            return 2.5
        with mock.patch.object(microgpt, 'train_step', nan_weights):
            status, _, stderr = run_main('--input', names, *SMALL, '--num_steps=2', '--save', ck)
        self.assertEqual(status, 2)
        self.assertIn('training diverged at step 1', stderr)
        self.assertEqual(stderr.count('\n'), 1)
        self.assertFalse(os.path.exists(ck))

    def test_running_out_of_memory_mid_run_keeps_the_last_whole_step(self):
        names = self.names
        ck = self.path('x.json')
        with mock.patch.object(microgpt, 'train_step', side_effect=[2.5, 2.4, MemoryError]):
            status, _, stderr = run_main('--input', names, *SMALL, '--num_steps=5', '--save', ck)
        self.assertEqual(status, 1)
        self.assertIn(f'out of memory; step 2 of 5 is saved in {ck}; go on with: ', stderr)
        self.assertEqual(stderr.count('\n'), 1)
        self.assertEqual(microgpt.read_checkpoint(ck)['step'], 2)


class MemoryBeforeTheWork(Folder):
    def test_attention_over_a_long_context_counts_in_the_memory_a_model_needs(self):
        # the same model as below, on documents that fill its context: refused before training
        docs = self.write('long.txt', 'ab' * 300 + '\n' + 'ba' * 300 + '\n')
        with mock.patch.object(microgpt, 'memory_here', return_value=4 * 2 ** 30), \
                mock.patch.object(microgpt, 'train_step', side_effect=AssertionError('trained')):
            status, _, stderr = run_main('--input', docs, '--n_embd=16', '--n_head=4',
                                         '--n_layer=8', '--block_size=400', '--num_steps=1')
        self.assertEqual(status, 2)
        self.assertIn('GiB of memory to train', stderr)

    def test_a_context_longer_than_any_document_costs_nothing_more(self):
        docs = self.write('short.txt', 'ab\nba\n')
        with mock.patch.object(microgpt, 'memory_here', return_value=4 * 2 ** 30):
            self.assertRanWell(run_main('--input', docs, '--n_embd=16', '--n_head=4',
                                        '--n_layer=8', '--block_size=400', '--num_steps=1',
                                        '--num_samples=0'))


class ABugIsNoBadFile(Folder):
    def test_a_lecture_function_that_fails_while_a_checkpoint_is_read_shows_its_traceback(self):
        _, path = self.saved()
        def build_tokenizer(docs):  # a student's slip: a ValueError of the code, not the file
            chars = sorted(set(''.join(docs)))
            chars.remove(' ')
            return microgpt.SimpleNamespace(chars=chars, BOS=len(chars), vocab_size=len(chars) + 1)
        with mock.patch.object(microgpt, 'build_tokenizer', build_tokenizer), \
                self.assertRaises(ValueError) as caught:
            run_main('--load', path, '--num_steps=0')
        self.assertNotIsInstance(caught.exception, argparse.ArgumentTypeError)


class TheDatasetIsNeverSavedOver(Folder):
    def test_save_naming_the_default_dataset_before_it_is_downloaded_is_refused(self):
        missing = self.path('input.txt')
        with mock.patch.object(microgpt, 'DEFAULT_INPUT', missing), \
                mock.patch.object(microgpt, 'download_names', side_effect=AssertionError):
            status, _, stderr = run_main('--input', missing, '--save', missing)
        self.assertEqual(status, 2)
        self.assertIn('is the dataset', stderr)
        self.assertFalse(os.path.exists(missing))


class EveryValueARunCanHold(Folder):
    def test_a_whole_number_of_as_many_digits_as_python_reads_is_taken(self):
        longest = '9' * microgpt.LONGEST_NUMBER
        self.assertEqual(microgpt.whole_number(0)(longest), int(longest))
        with self.assertRaises(argparse.ArgumentTypeError):
            microgpt.whole_number(0)(longest + '9')

    def test_a_whole_number_setting_a_student_adds_may_be_negative(self):
        parse, _ = microgpt.ADDED[int]
        self.assertEqual(parse('-3'), -3)

    def test_a_text_setting_a_student_adds_comes_back_from_a_checkpoint_as_it_was(self):
        style = microgpt.option_row(*microgpt.ADDED[str], 'a setting of the lecture', 'plain')
        with mock.patch.dict(microgpt.OPTIONS, style=style):
            self.assertEqual(microgpt.saved_setting('style', "it's 'fancy'"), "it's 'fancy'")

    def test_the_largest_finite_float_is_a_number(self):
        self.assertEqual(microgpt.a_number(sys.float_info.max), sys.float_info.max)
        self.assertEqual(microgpt.a_number(-sys.float_info.max), -sys.float_info.max)


class WhatACheckpointMustBe(Folder):
    def assertRefusedFor(self, ck, *words):
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.rebuild(ck)
        for word in words:
            self.assertIn(word, str(caught.exception))

    def test_another_format_is_refused(self):
        ck, _ = self.saved()
        ck['format'] = 'some other checkpoint'
        self.assertRefusedFor(ck, 'not a microgpt checkpoint')

    def test_a_setting_that_is_an_option_but_not_saved_is_refused(self):
        ck, _ = self.saved()
        for name in ('temperature', 'prompt', 'save'):
            with self.subTest(name):
                settings = dict(ck['settings'])
                ck['settings'][name] = microgpt.OPTIONS[name].default or 'x'
                self.assertRefusedFor(ck, 'unknown setting', name)
                ck['settings'] = settings

    def test_a_vocabulary_other_than_its_datasets_is_refused_when_training_goes_on(self):
        ck, path = self.saved()
        ck['vocab'] = ''.join(sorted(set('ABCD' + ck['vocab'])))[:len(ck['vocab'])]  # as long
        ck['settings']['num_steps'] += 1
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(ck, f)
        status, _, stderr = run_main('--load', path)
        self.assertEqual(status, 2)
        self.assertIn('vocabulary is not that of its dataset', stderr)

    def test_a_file_that_does_not_exist_cannot_be_read(self):
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(self.path('nowhere.json'))
        self.assertIn('cannot be read', str(caught.exception))

    def test_a_vocabulary_out_of_order_is_refused(self):
        ck, _ = self.saved()
        ck['vocab'] = ck['vocab'][::-1]
        self.assertRefusedFor(ck, 'vocab')


class NothingUnloadableIsEverWritten(Folder):
    def test_a_number_that_json_cannot_hold_is_never_written(self):
        ck, _ = self.saved()
        for key in ('losses', 'adam_m'):
            with self.subTest(key):
                broken = dict(ck, **{key: [math.nan] + ck[key][1:]})
                with self.assertRaises(ValueError):
                    microgpt.checkpoint_text(broken)

    def test_adam_buffers_turned_infinite_are_a_divergence(self):
        names = self.names
        ck = self.path('x.json')
        for buffer in (4, 5):  # m, then v: train_step()'s fifth and sixth arguments
            def infinite_buffer(*args):  # a finite loss, then no second moment
                args[buffer][0] = math.inf
                return 2.5
            with self.subTest(buffer=buffer), \
                    mock.patch.object(microgpt, 'train_step', infinite_buffer):
                status, _, stderr = run_main('--input', names, *SMALL, '--num_steps=2',
                                             '--save', ck)
                self.assertEqual(status, 2)
                self.assertIn('training diverged at step 1', stderr)
                self.assertFalse(os.path.exists(ck))


class OutputThatFails(Folder):
    def test_stdout_failing_mid_run_keeps_the_last_whole_step_saved(self):
        ck = self.path('x.json')
        real, shown = microgpt.print_step, []
        def print_step(step, loss, config):  # the reader of the output goes away at step 3
            if len(shown) == 2:
                raise BrokenPipeError(32, 'Broken pipe')
            shown.append(step)
            real(step, loss, config)
        with mock.patch.object(microgpt, 'print_step', print_step):
            status, _, stderr = run_main('--input', self.names, *SMALL, '--num_steps=5',
                                         '--save', ck)
        self.assertEqual(status, 1)
        self.assertIn(f'cannot write the output; step 3 of 5 is saved in {ck}', stderr)
        self.assertEqual(microgpt.read_checkpoint(ck)['step'], 3)

    def test_a_file_s_error_mid_run_is_no_failure_of_the_output_but_a_bug(self):
        def train_step(*args):  # an OSError that names a file: the code's, not stdout's
            raise FileNotFoundError(2, 'No such file or directory', 'somewhere.txt')
        with mock.patch.object(microgpt, 'train_step', train_step), \
                self.assertRaises(FileNotFoundError):
            run_main('--input', self.names, *SMALL, '--num_steps=5', '--save', self.path('x.json'))


class FirstScores(Folder):
    def test_one_score_that_is_not_finite_is_refused_before_any_sample_line(self):
        _, path = self.saved()
        real = microgpt.gpt
        def gpt(*args):  # one score of the first position overflows
            logits = real(*args)
            return [microgpt.Value(math.inf)] + logits[1:]
        with mock.patch.object(microgpt, 'gpt', gpt):
            status, stdout, stderr = run_main('--load', path, '--num_steps=0')
        self.assertEqual(status, 2)
        self.assertIn('not finite', stderr)
        self.assertNotIn('--- inference', stdout)

    def test_a_value_error_of_the_code_while_sampling_shows_its_traceback(self):
        _, path = self.saved()
        def decode(ids, tokenizer):  # a student's slip: no scores to blame
            raise ValueError('a slip in decode()')
        with mock.patch.object(microgpt, 'decode', decode), self.assertRaises(ValueError):
            run_main('--load', path, '--num_steps=0')


class Means(unittest.TestCase):
    def test_a_mean_adds_its_numbers_exactly_before_it_divides(self):
        self.assertEqual(microgpt.mean([1e16, 1.0, 1.0]), (1e16 + 2) / 3)


class HeldOutDocumentsInTheEstimate(Folder):
    def test_a_held_out_document_counts_in_the_memory_a_model_needs(self):
        # the longest document held out or not, the same model needs the same memory
        docs = self.write('two.txt', 'ab\nabcdefghijklmnopqrstuvwxyz\n')
        lines = []
        for holdout in ('0', '1'):
            with mock.patch.object(microgpt, 'memory_here', return_value=2 ** 30):
                status, _, stderr = run_main('--input', docs, '--seed=1', f'--holdout={holdout}',
                                             '--n_embd=20000', '--n_head=1', '--block_size=30')
            self.assertEqual(status, 2)
            lines.append(stderr)
        self.assertEqual(lines[0], lines[1])
