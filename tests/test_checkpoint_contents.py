"""What a checkpoint may hold. --load takes a file only as --save writes one:
each entry, setting, matrix and number of the right kind and size, the
generator's state as random.getstate() gives it, and the documents it was
trained on; anything else is refused by one reason, before any work, however
deep its brackets nest or however many digits its numbers have. Each test
changes one thing in a checkpoint that main() wrote, in this process, on a tiny
model."""
import json
import math
import os
import random
import unittest
from unittest import mock

import microgpt
from tests.harness import DOCS, TINY, CheckpointFolder, run_main, text_of


class ChangedCheckpoints(CheckpointFolder):
    def changed(self, *keys, to):
        """The checkpoint's JSON with the entry that `keys` lead to changed `to` a value,
        or by a function `to` of its old value."""
        ck = self.ck()
        *outer, last = keys
        entry = ck
        for key in outer:
            entry = entry[key]
        entry[last] = to(entry[last]) if callable(to) else to
        return ck


class TheEntries(ChangedCheckpoints):
    def test_the_unchanged_checkpoint_is_rebuilt(self):  # the control of the tests below
        run = microgpt.rebuild(self.ck())
        self.assertEqual(run['step'], self.STEPS)

    def test_settings_that_are_a_list_of_the_setting_names_are_refused(self):
        ck = self.changed('settings', to=sorted)
        self.assertRebuildRefuses(ck, 'settings are not a JSON object')

    def test_a_checkpoint_lacking_any_one_setting_is_refused_by_its_name(self):
        for name in microgpt.SAVED_SETTINGS:
            with self.subTest(name):
                ck = self.ck()
                del ck['settings'][name]
                self.assertRebuildRefuses(ck, f'lacks the setting {name!r}')

    def test_true_for_a_whole_number_setting_is_refused_for_its_type(self):
        ck = self.changed('settings', 'n_layer', to=True)  # an int to isinstance(), not to JSON
        self.assertRebuildRefuses(ck, 'its n_layer is True, not of type int')

    def test_a_whole_number_for_a_float_setting_is_taken_as_that_float(self):
        ck = self.ck()
        ck['settings']['learning_rate'] = 1
        settings = microgpt.rebuild(ck)['settings']
        self.assertEqual((settings['learning_rate'], type(settings['learning_rate'])), (1.0, float))

    def test_a_step_of_true_is_refused(self):  # with one loss, true would pass for step 1
        ck = self.ck()
        ck['step'], ck['losses'] = True, ck['losses'][:1]
        self.assertRebuildRefuses(ck, 'is not a step of its run')

    def test_a_step_of_minus_1_is_refused_as_no_step(self):
        ck = self.changed('step', to=-1)
        self.assertRebuildRefuses(ck, 'its step, -1, is not a step of its run')

    def test_a_step_one_beyond_its_run_is_refused(self):
        ck = self.ck()
        ck['step'] = ck['settings']['num_steps'] + 1
        ck['losses'] += [2.0] * (ck['step'] - len(ck['losses']))
        self.assertRebuildRefuses(ck, 'is not a step of its run')


class TheGeneratorsState(ChangedCheckpoints):
    """random_state: [3, 625 words of 32 bits the last of which is an index up to 624,
    a gaussian in hand or null], as random.getstate() gives it through JSON."""
    def setUp(self):
        super().setUp()
        self.addCleanup(random.setstate, random.getstate())

    def json_state(self, state):
        return json.loads(json.dumps(state))  # as a checkpoint gives it back: lists, not tuples

    def test_the_unchanged_state_is_taken(self):  # the control of the tests below
        self.assertEqual(microgpt.rebuild(self.ck())['random_state'][1],
                         tuple(self.ck()['random_state'][1]))

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

    def test_a_state_of_four_items_is_refused(self):
        ck = self.changed('random_state', to=lambda state: state + [None])
        self.assertRebuildRefuses(ck, 'random_state')

    def test_a_state_of_version_3_written_as_a_float_is_refused(self):
        self.assertRebuildRefuses(self.changed('random_state', 0, to=3.0), 'random_state')

    def test_a_state_of_version_2_is_refused(self):
        self.assertRebuildRefuses(self.changed('random_state', 0, to=2), 'random_state')

    def test_a_state_of_626_words_is_refused(self):
        ck = self.changed('random_state', 1, to=lambda words: [1] + words)
        self.assertRebuildRefuses(ck, 'random_state')

    def test_a_word_of_2_to_the_32_is_refused(self):  # the least that 32 bits cannot hold
        self.assertRebuildRefuses(self.changed('random_state', 1, 0, to=2**32), 'random_state')

    def test_a_word_that_is_a_float_is_refused(self):
        self.assertRebuildRefuses(self.changed('random_state', 1, 0, to=1.0), 'random_state')

    def test_an_index_of_625_is_refused(self):  # 624 is the largest the generator has
        self.assertRebuildRefuses(self.changed('random_state', 1, -1, to=625), 'random_state')

    def test_an_infinite_gaussian_in_hand_is_refused(self):  # 1e400 in JSON reads as inf
        self.assertRebuildRefuses(self.changed('random_state', 2, to=math.inf), 'random_state')


class TheDatasetAndTheVocab(ChangedCheckpoints):
    def test_a_dataset_with_an_entry_more_is_refused(self):
        self.assertRebuildRefuses(self.changed('dataset', 'size', to=1), 'dataset is not described')

    def test_a_dataset_without_a_digest_is_refused(self):  # --save always writes one
        ck = self.changed('dataset', 'sha256', to=None)
        self.assertRebuildRefuses(ck, 'dataset is not described')

    def test_a_number_of_documents_written_as_text_is_refused(self):
        ck = self.changed('dataset', 'num_docs', to=str)
        self.assertRebuildRefuses(ck, 'dataset is not described')

    def test_a_dataset_of_no_documents_is_refused(self):
        self.assertRebuildRefuses(self.changed('dataset', 'num_docs', to=0), 'dataset')

    def test_a_dataset_that_is_a_list_of_the_entry_names_is_refused(self):
        self.assertRebuildRefuses(self.changed('dataset', to=sorted), 'dataset is not described')

    def test_documents_joined_differently_are_other_documents(self):
        path = self.write('joined.txt', 'ab\nc\n')
        status, _, stderr = run_main('--input', path, *TINY, '--num_steps=2', '--save',
                                     self.path('joined.json'))
        self.assertEqual((status, stderr), (0, ''))
        other = self.write('split.txt', 'a\nbc\n')  # the same characters in the same order
        self.assertRefused(run_main('--load', self.path('joined.json'), '--input', other),
                           'does not hold the documents')

    def test_gradcheck_of_a_checkpoint_reads_its_dataset(self):
        moved = self.path('moved.json')
        gone = self.write('gone.txt', text_of(DOCS))
        status, _, stderr = run_main('--input', gone, *TINY, '--num_steps=2', '--save', moved)
        self.assertEqual((status, stderr), (0, ''))
        os.remove(gone)
        self.assertRefused(run_main('--load', moved, '--num_steps=0', '--gradcheck'),
                           'does not exist')

    def test_a_vocab_with_a_repeated_character_is_refused(self):  # same length, so same shapes
        self.assertRebuildRefuses(self.changed('vocab', to=lambda old: old[0] + old[:-1]), 'vocab')

    def test_an_empty_vocab_is_refused(self):
        self.assertRebuildRefuses(self.changed('vocab', to=''), 'vocab')

    def test_a_vocab_holding_a_tab_is_refused(self):  # sorted, distinct, of the same length
        self.assertRebuildRefuses(self.changed('vocab', to=lambda old: '\t' + old[1:]), 'vocab')

    def test_a_vocab_that_is_a_list_of_its_characters_is_refused(self):
        self.assertRebuildRefuses(self.changed('vocab', to=list), 'vocab')


class TheMatrices(ChangedCheckpoints):
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
        ck = self.changed('state_dict', 'lm_head', to=0.5)
        self.assertRebuildRefuses(ck, 'its lm_head is not the')

    def test_a_state_dict_that_is_a_list_is_refused_as_no_json_object(self):
        ck = self.changed('state_dict', to=lambda old: list(old.values()))
        self.assertRebuildRefuses(ck, 'state_dict is not a JSON object')

    def test_of_several_unknown_matrices_the_first_in_sorted_order_is_named(self):
        ck = self.ck()
        for name in ('zeta', 'alpha', 'mu'):
            ck['state_dict'][name] = [[0.5]]
        self.assertRebuildRefuses(ck, "holds 'alpha', which its model has not")


class TheNumbers(ChangedCheckpoints):
    def test_whole_numbers_are_read_as_floats(self):  # JSON 2 for 2.0: the same number
        ck = self.ck()
        ck['losses'] = [round(x) for x in ck['losses']]
        ck['state_dict']['wte'][0][0] = 0
        run = microgpt.rebuild(ck)
        self.assertEqual({type(x) for x in run['losses']}, {float})
        self.assertIs(type(run['state_dict']['wte'][0][0].data), float)

    def test_a_loss_that_is_true_is_refused(self):  # JSON true is no number, though bool is int
        self.assertRebuildRefuses(self.changed('losses', 0, to=True), 'not a finite number')

    def test_a_loss_that_is_text_is_refused(self):
        self.assertRebuildRefuses(self.changed('losses', -1, to='2.5'), 'not a finite number')

    def test_losses_written_as_one_number_are_refused(self):
        ck = self.changed('losses', to=2.5)
        self.assertRebuildRefuses(ck, f'its losses are not {self.STEPS} numbers')

    def test_more_losses_than_steps_are_refused(self):
        ck = self.ck()
        ck['losses'].append(ck['losses'][-1])
        self.assertRebuildRefuses(ck, 'losses')

    def test_empty_adam_buffers_are_refused(self):
        ck = self.ck()
        ck['adam_m'], ck['adam_v'] = [], []
        self.assertRebuildRefuses(ck, 'adam_m and adam_v are not')

    def test_an_adam_v_shorter_than_the_weights_is_refused(self):
        ck = self.ck()
        ck['adam_v'].pop()
        self.assertRebuildRefuses(ck, 'adam_m and adam_v')

    def test_the_least_negative_second_moment_is_refused(self):
        ck = self.changed('adam_v', 0, to=-5e-324)
        self.assertRebuildRefuses(ck, 'adam_v holds a negative number')

    def test_a_weight_of_400_digits_is_refused_as_no_finite_number(self):
        ck = self.ck()
        ck['state_dict'][next(iter(ck['state_dict']))][0][0] = 10 ** 400
        self.assertRebuildRefuses(ck, '10000000000', 'is not a finite number')

    def test_a_value_of_40_characters_is_shown_whole_and_one_of_41_is_cut(self):
        self.assertEqual(microgpt.shown('x' * 38), repr('x' * 38))
        self.assertEqual(microgpt.shown('x' * 39), repr('x' * 39)[:36] + '...')


class TheTextOfTheFile(ChangedCheckpoints):
    """The file as text: its brackets, the digits of its numbers, its lines, its size."""
    def assertReadRefuses(self, path, *words):
        """read_checkpoint() refuses the file, in a reason that holds each of `words`."""
        return self.assertRefuses(microgpt.read_checkpoint, path, *words)

    def with_step(self, digits, name):
        """The checkpoint's file with its step written as `digits`, saved as `name`."""
        return self.write(name, self.ck_text.replace(f'"step": {self.STEPS},',
                                                     f'"step": {digits},'))

    def test_a_bracket_inside_a_key_is_text_not_nesting(self):
        path = self.write('key.json', '{"[": 1}')
        self.assertEqual(self.assertReadRefuses(path), 'it is not a microgpt checkpoint')

    def test_lists_nested_four_deep_as_a_checkpoint_s_rows_are_not_refused_for_nesting(self):
        path = self.write('four.json', '[[[[1]]]]')
        self.assertEqual(self.assertReadRefuses(path), 'it is not a microgpt checkpoint')

    def test_a_file_nested_deeper_than_python_can_parse_is_refused_in_one_line(self):
        path = self.write('deep.json', '[' * 200000 + ']' * 200000)
        self.assertReadRefuses(path, 'nest deeper than Python can read')

    def test_a_file_with_one_unpaired_bracket_in_a_string_is_read(self):
        ck = self.ck()
        ck['dataset']['path'] = self.path('names[old.txt')
        microgpt.read_checkpoint(self.write('bracket.json', json.dumps(ck)))

    def test_a_whole_number_of_31_digits_is_read_as_a_whole_number(self):
        path = self.with_step('1' + '0' * 30, 'big.json')
        self.assertReadRefuses(path, 'its step, 1' + '0' * 30 + ',')

    def test_a_number_of_more_digits_than_python_reads_is_refused_in_a_short_line(self):
        path = self.with_step('1' * (microgpt.LONGEST_NUMBER + 1), 'long.json')
        self.assertLess(len(self.assertReadRefuses(path)), 100)

    def test_a_number_of_as_many_digits_as_python_reads_is_read(self):
        path = self.with_step('1' * microgpt.LONGEST_NUMBER, 'long.json')
        self.assertReadRefuses(path, 'is not a step of its run')

    def test_each_row_of_a_matrix_is_a_line_of_the_file(self):
        rows = [json.dumps(row) for mat in self.ck()['state_dict'].values() for row in mat]
        self.assertTrue(all('\n  ' + row in self.ck_text for row in rows))

    def test_reading_a_checkpoint_asks_for_no_more_memory_than_it_takes(self):
        # a file the program trained and saved is never refused for its size
        with mock.patch.object(microgpt, 'memory_here', return_value=1):
            microgpt.read_checkpoint(self.ck_path)

    def test_a_file_too_big_for_the_memory_to_parse_is_refused_in_one_line(self):
        with mock.patch.object(microgpt.json, 'loads', side_effect=MemoryError):
            self.assertReadRefuses(self.ck_path, 'too big for the memory here')


if __name__ == '__main__':
    unittest.main()
