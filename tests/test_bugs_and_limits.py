"""Whose doing a failure is, said as such. A bug shows as itself, in a
traceback at its line; numbers that leave the floats after a finite loss are a
divergence, the learning rate's doing, and at a loaded run's first step or in
its scores, its file's; limits come before the work, in one line that says them;
and a checkpoint whose numbers are finite but are no model is refused in one line.

A bug is planted by replacing a lecture function in a small driver that imports
microgpt (never by editing its text), so the traceback must name the driver's
own line. Limits are checked from numbers alone: a model of any size setting is
refused under a memory limit far below what building it would take."""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import unittest
from unittest import mock

import microgpt
from tests.harness import (ROOT, SCRIPT, TINY_MODEL as TINY, CheckpointFolder, Folder, run_main,
                           run_script, seconds)

# A student's slip in rmsnorm: the mean square less 1, so that a power of a negative
# number fails with math's domain error at the first step
PLANTED = '''
import sys
sys.path.insert(0, {root!r})
import microgpt
def rmsnorm(x):
    ms = microgpt.dot(x, x) / len(x) - 1  # the slip
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]
microgpt.rmsnorm = rmsnorm
microgpt.main(sys.argv[1:])
'''


class EditedCheckpoints(Folder):
    """A Folder where each test saves a checkpoint of two steps and edits it."""
    def save_checkpoint(self, *args):
        status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=2',
                                     '--num_samples=0', '--save', self.path('ck.json'), *args)
        self.assertEqual((status, stderr), (0, ''))
        return self.read_json('ck.json')

    def write_checkpoint(self, ck, name='edited.json'):
        return self.write(name, json.dumps(ck))

    def assertOneLine(self, result, *words):
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.decode('utf-8').splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith('microgpt.py: error: '), lines[0])
        for word in words:
            self.assertIn(word, lines[0])
        return lines[0]


class ABugShowsAsItself(EditedCheckpoints):
    def run_planted(self, *args):  # a file of its own, so that the traceback shows its lines
        driver = self.path('planted.py')
        with open(driver, 'w', encoding='utf-8') as f:
            f.write(PLANTED.format(root=ROOT))
        return subprocess.run([sys.executable, driver, *args], cwd=self.tmp,
                              capture_output=True, timeout=60)

    def assertTracebackNamesTheSlip(self, result):
        err = result.stderr.decode('utf-8')
        self.assertEqual(result.returncode, 1, err)
        self.assertIn('Traceback (most recent call last)', err)
        self.assertRegex(err, r'planted\.py", line \d+, in rmsnorm')  # the slip's own frame
        self.assertIn('math domain error', err)
        self.assertNotIn('diverged', err)
        self.assertNotIn('learning_rate', err)

    def test_a_slip_in_the_lecture_ends_in_a_traceback_at_its_line_when_training(self):
        self.assertTracebackNamesTheSlip(self.run_planted('--input', self.names, *TINY,
                                                          '--num_steps=3'))

    def test_a_slip_in_the_lecture_ends_in_a_traceback_when_a_checkpoint_is_only_sampled(self):
        self.save_checkpoint()
        self.assertTracebackNamesTheSlip(self.run_planted('--load', self.path('ck.json'),
                                                          '--num_steps=0'))


class TheSameMessageUnderAnyHashSeed(EditedCheckpoints):
    def test_a_checkpoint_broken_in_several_ways_gets_one_message(self):
        ck = self.save_checkpoint()
        del ck['losses'], ck['adam_v']
        ck['zzz'] = 1
        ck['settings']['yyy'] = 2
        path = self.write_checkpoint(ck)
        lines = set()
        for seed in ('0', '1', '2', '3', '42'):
            result = run_script('--load', path, '--num_steps=0',
                                env=dict(os.environ, PYTHONHASHSEED=seed))
            lines.add(self.assertOneLine(result))
        self.assertEqual(lines, {f"microgpt.py: error: --load {path} is not usable: it lacks "
                                 f"'losses'; pass a file written by --save"})


def raised(f):
    """The exception that f() raises, with its traceback."""
    try:
        f()
    except Exception as error:
        return error
    raise AssertionError(f'{f} raised nothing')


class ABugOrADivergence(Folder):
    """After a finite loss, numbers that leave the floats in an operation of Value are a
    divergence, said in one line; anything else, and anything at the first step, is a bug."""
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

    def test_a_divergence_names_the_learning_rate_of_the_run(self):
        with mock.patch.object(microgpt, 'train_step', side_effect=[3.0, math.inf]):
            result = run_main('--input', self.names, *TINY, '--num_steps=3',
                              '--learning_rate=0.25')
        self.assertRefused(result, 'training diverged at step 2',
                           'smaller --learning_rate than 0.25')


class ScoresThatAreNotFinite(CheckpointFolder):
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


class ChecksInAFixedOrder(unittest.TestCase):
    def test_missing_entries_are_named_in_the_order_save_writes_them(self):
        ck = {key: None for key in microgpt.CHECKPOINT_KEYS}
        ck.update(format=microgpt.CHECKPOINT_FORMAT, version=microgpt.CHECKPOINT_VERSION)
        for missing in microgpt.CHECKPOINT_KEYS[2:]:
            partial = {key: value for key, value in ck.items() if key != missing}
            with self.subTest(missing), self.assertRaises(argparse.ArgumentTypeError) as caught:
                microgpt.check_entries(partial)
            self.assertEqual(str(caught.exception), f'it lacks {missing!r}')

    def test_of_several_unknown_entries_the_first_in_sorted_order_is_named(self):
        ck = {key: {} for key in microgpt.CHECKPOINT_KEYS}
        ck.update(format=microgpt.CHECKPOINT_FORMAT, version=microgpt.CHECKPOINT_VERSION,
                  zeta=1, alpha=2, mu=3)
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.check_entries(ck)
        self.assertEqual(str(caught.exception), "it holds an unknown 'alpha'")


def memory_capped(gib):
    def cap():
        limit = gib * 2 ** 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return cap


class LimitsBeforeTheWork(unittest.TestCase):
    """Any model-size setting, however large, is refused from numbers alone: under a
    cap of 2 GiB on the address space, which building any of these would pass."""

    def assertRefusedUnderTheCap(self, *args):
        result = subprocess.run([sys.executable, SCRIPT, *args, '--num_steps=1'], timeout=60,
                                capture_output=True, preexec_fn=memory_capped(2))
        self.assertEqual(result.returncode, 2, result.stderr[-300:])
        lines = result.stderr.decode('utf-8').splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('memory', lines[0])
        self.assertEqual(result.stdout, b'')
        return lines[0]

    def test_ten_million_layers_are_refused_before_the_work(self):
        n = microgpt.count_weights(27, microgpt.SimpleNamespace(
            **{**vars(microgpt.settings), 'n_layer': 10 ** 7}))
        self.assertIn(f'a model of {n:,} weights', self.assertRefusedUnderTheCap(
            '--n_layer', str(10 ** 7)))

    def test_a_width_of_a_billion_is_refused_before_the_work(self):
        self.assertRefusedUnderTheCap('--n_embd', str(10 ** 9), '--n_head', '1')

    def test_a_width_of_two_hundred_million_is_refused_before_the_work(self):
        self.assertRefusedUnderTheCap('--n_embd', str(2 * 10 ** 8), '--n_head', '1')

    def test_a_setting_larger_than_the_memory_in_bytes_is_refused_by_name(self):
        line = self.assertRefusedUnderTheCap('--block_size', str(10 ** 30))
        self.assertIn(f'--block_size={10 ** 30}', line)

    def test_the_weights_are_counted_as_init_state_dict_makes_them_at_any_depth(self):
        for n_layer in (1, 2, 3, 7):
            config = microgpt.SimpleNamespace(**{**vars(microgpt.settings), 'n_layer': n_layer})
            shapes = microgpt.model_shapes(27, config)
            self.assertEqual(microgpt.count_weights(27, config),
                             sum(rows * cols for rows, cols in shapes.values()))


class LimitsSaidInTheirMessages(Folder):
    """The figures of the memory limits' messages, and the one that counts."""
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

    def test_the_soft_limit_on_memory_is_the_one_that_counts(self):
        import resource
        soft, unlimited = 2 ** 20, resource.RLIM_INFINITY  # far below any machine's memory
        limits = {resource.RLIMIT_AS: (soft, unlimited), resource.RLIMIT_DATA: (unlimited,) * 2}
        with mock.patch.object(resource, 'getrlimit', side_effect=limits.get):
            self.assertEqual(microgpt.memory_here(), soft)


class CheckpointsThatAreNoModel(EditedCheckpoints):
    def test_a_negative_second_moment_of_adam_is_refused(self):
        ck = self.save_checkpoint()
        ck['adam_v'][5] = -1e-12
        result = run_script('--load', self.write_checkpoint(ck), '--num_steps=0')
        self.assertOneLine(result, 'adam_v', 'negative')

    def test_a_long_list_of_zeros_is_refused_by_its_length_and_parsed_without_a_call_a_number(self):
        ck = self.save_checkpoint()
        ck['adam_m'] = [0] * 10 ** 6
        path = self.write_checkpoint(ck)
        real_loads, hooks = json.loads, []
        def loads(text, **kwargs):
            hooks.extend(name for name, hook in kwargs.items() if hook is not None)
            return real_loads(text, **kwargs)
        with mock.patch.object(microgpt.json, 'loads', side_effect=loads), \
                self.assertRaises(argparse.ArgumentTypeError) as caught:
            microgpt.read_checkpoint(path)
        self.assertIn('adam_m and adam_v are not', str(caught.exception))
        self.assertNotIn('parse_int', hooks)
        self.assertNotIn('parse_float', hooks)

    def test_a_seed_of_31_digits_comes_back_a_whole_number(self):
        seed = 10 ** 30 + 7
        self.save_checkpoint('--seed', str(seed))
        run = microgpt.read_checkpoint(self.path('ck.json'))
        self.assertEqual(run['settings']['seed'], seed)
        self.assertIs(type(run['settings']['seed']), int)

    def sample_loaded(self, *args, scores=None):
        """Sampling the checkpoint, in this process, with gpt() giving `scores` for some calls."""
        real = microgpt.gpt
        def gpt(token_id, *rest):
            logits = real(token_id, *rest)
            return scores(token_id, logits) or logits
        with mock.patch.object(microgpt, 'gpt', side_effect=gpt):
            return run_main('--load', self.path('ck.json'), '--num_steps=0', '--num_samples=1',
                            *args)

    def test_scores_that_overflow_through_one_letter_only_are_refused_when_it_is_read(self):
        ck = self.save_checkpoint()
        letter = ck['vocab'].index('a')
        def scores(token_id, logits):  # tame through BOS and every other letter
            return [microgpt.Value(math.inf)] * len(logits) if token_id == letter else None
        # seven b fill the block of 8 but its last position, whose draw is read by no one
        status, stdout, stderr = self.sample_loaded('--prompt=bbbbbbb', scores=scores)
        self.assertEqual((status, stderr), (0, ''))
        if sys.version_info < (3, 10):
            return  # random.choices() draws from such scores without a word before 3.10
        status, stdout, stderr = self.sample_loaded('--prompt=a', scores=scores)
        self.assertEqual(status, 2)
        self.assertEqual(stderr, f"microgpt.py: error: the weights in {self.path('ck.json')} "
                                 f"give scores that are not finite numbers; they cannot be sampled\n")
        self.assertNotIn('sample  1', stdout)

    def test_a_temperature_that_makes_finite_scores_overflow_is_named(self):
        self.save_checkpoint()
        def scores(token_id, logits):  # finite, but 100 / 1e-307 is not
            return [microgpt.Value(100.0)] + logits[1:]
        self.assertEqual(self.sample_loaded('--temperature=1e-300', scores=scores)[0], 0)
        status, _, stderr = self.sample_loaded('--temperature=1e-307', scores=scores)
        self.assertEqual(status, 2)
        self.assertEqual(stderr, 'microgpt.py: error: --temperature=1e-307 makes the scores '
                                 'overflow; try one nearer 1\n')


class ALoadedFileThatBreaksDown(EditedCheckpoints):
    def test_an_infinite_first_loss_of_a_loaded_run_blames_its_file(self):
        self.stopped('at0.json', stop_at=0)
        path = self.path('at0.json')
        with mock.patch.object(microgpt, 'train_step', return_value=math.inf):
            result = run_main('--load', path)
        stderr = self.assertRefused(result, f'the weights in {path} give numbers that are not '
                                            f'finite at step 1 (the loss is inf)')
        self.assertNotIn('learning_rate', stderr)

    def test_a_first_step_that_leaves_the_floats_blames_the_file_not_the_learning_rate(self):
        self.save_checkpoint()
        with open(self.path('ck.json'), encoding='utf-8') as f:
            ck = json.load(f)
        ck['step'], ck['losses'], ck['settings']['num_steps'] = 0, [], 3
        path = self.write_checkpoint(ck)
        with mock.patch.object(microgpt, 'train_step', side_effect=OverflowError('math range error')):
            status, _, stderr = run_main('--load', path, '--input', self.names)
        self.assertEqual(status, 2)
        self.assertIn(f'the weights in {path} give numbers that are not finite at step 1', stderr)
        self.assertNotIn('learning_rate', stderr)

    def test_a_curve_of_losses_that_are_all_zero_has_no_bars_and_no_traceback(self):
        ck = self.save_checkpoint()
        ck['losses'] = [0.0] * len(ck['losses'])
        status, stdout, stderr = run_main('--load', self.write_checkpoint(ck), '--num_steps=0',
                                          '--num_samples=0', '--report')
        self.assertEqual((status, stderr), (0, ''))
        self.assertIn('steps    1 -    1 | 0.0000 \n', stdout)


class GradcheckOnCorrectCode(EditedCheckpoints):
    def gradcheck(self, *args):
        return run_script('--input', self.names, '--gradcheck', *args)

    def test_a_width_of_one_agrees_on_several_seeds(self):
        for seed in ('1', '2', '3'):
            with self.subTest(seed=seed):
                result = self.gradcheck('--n_embd=1', '--n_head=1', '--seed', seed)
                self.assertEqual(result.returncode, 0, result.stdout.decode())
                self.assertTrue(result.stdout.endswith(b'all agree\n'))

    @seconds
    def test_other_shapes_agree(self):
        for args in (['--n_embd=2', '--n_head=2'], ['--n_embd=4', '--n_head=1', '--n_layer=3'],
                     ['--n_embd=1', '--n_head=1', '--n_layer=4', '--seed=5'],
                     ['--n_embd=8', '--n_head=8', '--block_size=4']):
            with self.subTest(args=args):
                result = self.gradcheck(*args)
                self.assertEqual(result.returncode, 0, result.stdout.decode())

    def test_a_matrix_with_no_gradient_is_said_to_be_unchecked_and_fails_nothing(self):
        real = microgpt.init_state_dict
        def with_an_unused_matrix(vocab_size, config):
            state_dict = real(vocab_size, config)
            state_dict['unused'] = microgpt.matrix(2, 3)
            return state_dict
        with mock.patch.object(microgpt, 'init_state_dict', side_effect=with_an_unused_matrix):
            status, stdout, _ = run_main('--input', self.names, *TINY, '--gradcheck')
        self.assertEqual(status, 0)
        line = [line for line in stdout.splitlines() if line.endswith('unused: no gradient, so not checked')]
        self.assertEqual(len(line), 1, stdout)
        self.assertNotIn('ok', line[0])
        self.assertTrue(stdout.endswith('all agree\n'))


if __name__ == '__main__':
    unittest.main()
