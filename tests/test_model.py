"""The model's pieces: the tokenizer, the parameters, the building blocks of the
forward pass, the KV cache, and the loss gradient of every matrix against
finite differences.

Whatever these expect comes from the code itself (the matrices from
init_state_dict(), the sizes from the settings), so that they hold for any
model the lecture builds; the reference's own matrices and numbers are
checked in test_faithful_reference."""
import contextlib
import io
import math
import os
import random
import shutil
import tempfile
import unittest
from unittest import mock

import microgpt
from microgpt import (Value, build_tokenizer, decode, doc_loss, encode, gpt, init_state_dict,
                      kv_cache, linear, parameters, rmsnorm, run, softmax)
from tests.harness import count_parameters, model_shapes, run_main, settings_with

SMALL = settings_with(n_layer=2, n_embd=8, n_head=2, block_size=6)


class Tokenizer(unittest.TestCase):
    def test_the_vocabulary_is_the_sorted_set_of_characters(self):
        self.assertEqual(build_tokenizer(['émile', 'zoë', 'ada']).chars, list('adeilmozéë'))

    def test_BOS_is_the_token_after_the_characters_and_counts_in_the_vocab_size(self):
        tokenizer = build_tokenizer(['émile', 'zoë', 'ada'])
        self.assertEqual((tokenizer.BOS, tokenizer.vocab_size), (10, 11))

    def test_a_document_is_framed_by_BOS_on_both_sides(self):
        tokenizer = build_tokenizer(['abc'])
        self.assertEqual(encode('cab', tokenizer), [3, 2, 0, 1, 3])

    def test_decoding_gives_back_the_characters(self):
        tokenizer = build_tokenizer(['zoë', 'ana'])
        self.assertEqual(decode(encode('zoë', tokenizer)[1:-1], tokenizer), 'zoë')


class Parameters(unittest.TestCase):
    def setUp(self):
        random.seed(42)
        self.state_dict = init_state_dict(7, SMALL)

    def test_every_matrix_is_rows_of_equal_length_of_fresh_weights(self):
        for name, mat in self.state_dict.items():
            with self.subTest(name):
                self.assertTrue(mat and mat[0])
                self.assertEqual({len(row) for row in mat}, {len(mat[0])})
                self.assertTrue(all(isinstance(p, Value) and p.grad == 0
                                    for row in mat for p in row))

    def test_parameters_are_weights_of_the_state_dict_each_once_in_its_order(self):
        # every weight, unless the lecture leaves some out of training (a frozen base)
        order = {id(p): i for i, p in enumerate(
            p for mat in self.state_dict.values() for row in mat for p in row)}
        positions = [order.get(id(p)) for p in parameters(self.state_dict)]
        self.assertNotIn(None, positions)
        self.assertEqual(positions, sorted(set(positions)))
        self.assertTrue(positions)

    def test_the_weights_follow_from_the_seed(self):
        random.seed(42)
        again = init_state_dict(7, SMALL)
        self.assertEqual([p.data for p in parameters(again)],
                         [p.data for p in parameters(self.state_dict)])

    def test_more_layers_add_matrices_and_a_wider_model_more_weights(self):
        base = init_state_dict(7, SMALL)
        deeper = init_state_dict(7, settings_with(**{**vars(SMALL), 'n_layer': SMALL.n_layer + 1}))
        wider = init_state_dict(7, settings_with(**{**vars(SMALL), 'n_embd': 2 * SMALL.n_embd}))
        self.assertGreater(len(deeper), len(base))
        self.assertGreater(len(parameters(wider)), len(parameters(base)))


class BuildingBlocks(unittest.TestCase):
    def test_softmax_gives_probabilities_that_add_up_to_one(self):
        probs = softmax([Value(x) for x in (1.0, -2.0, 0.5, 800.0)])
        self.assertTrue(all(p.data >= 0 for p in probs))
        self.assertAlmostEqual(sum(p.data for p in probs), 1.0, places=15)

    def test_rmsnorm_rescales_to_unit_root_mean_square(self):
        y = rmsnorm([Value(x) for x in (3.0, -4.0, 12.0, 0.0)])
        self.assertAlmostEqual(math.sqrt(sum(v.data ** 2 for v in y) / 4), 1.0, places=6)

    def test_linear_is_a_matrix_times_a_vector(self):
        w = [[Value(1.0), Value(2.0)], [Value(-3.0), Value(0.5)]]
        self.assertEqual([y.data for y in linear([Value(10.0), Value(4.0)], w)], [18.0, -28.0])


class Forward(unittest.TestCase):
    VOCAB_SIZE = 6

    def setUp(self):
        random.seed(42)
        self.state_dict = init_state_dict(self.VOCAB_SIZE, SMALL)

    def logits_of(self, tokens):
        cache = kv_cache(SMALL)
        return [[l.data for l in gpt(t, pos, cache, self.state_dict, SMALL)]
                for pos, t in enumerate(tokens)]

    def test_the_cache_starts_empty_with_a_place_for_each_layer(self):
        self.assertEqual(kv_cache(SMALL), [([], [])] * SMALL.n_layer)

    def test_each_call_gives_a_score_for_every_token_of_the_vocabulary(self):
        for scores in self.logits_of([5, 1, 2]):
            self.assertEqual(len(scores), self.VOCAB_SIZE)

    def test_the_cache_grows_by_one_position_per_layer_and_call(self):
        cache = kv_cache(SMALL)
        for pos, token in enumerate([5, 1, 2]):
            gpt(token, pos, cache, self.state_dict, SMALL)
            self.assertEqual([len(kv) for keys_values in cache for kv in keys_values],
                             [pos + 1] * (2 * SMALL.n_layer))

    def test_a_position_never_sees_the_tokens_after_it(self):
        a, b = self.logits_of([5, 1, 2, 3]), self.logits_of([5, 1, 4, 0])
        self.assertEqual(a[:2], b[:2])
        self.assertNotEqual(a[2], b[2])

    def test_every_position_of_a_block_can_be_read(self):
        tokens = [t % self.VOCAB_SIZE for t in range(SMALL.block_size)]
        scores = self.logits_of(tokens)
        self.assertEqual(len(scores), SMALL.block_size)
        self.assertTrue(all(math.isfinite(x) for row in scores for x in row))


class LossGradient(unittest.TestCase):
    """backward() through the whole model agrees with finite differences, for
    every matrix that init_state_dict() makes, of a small two-layer model: along
    a random direction in each matrix (every weight of it at once), and at a few
    single weights."""

    CONFIG = settings_with(n_layer=2, n_embd=4, n_head=2, block_size=5)
    TOKENS = [4, 0, 2, 1, 3, 3, 0, 4]  # longer than block_size: the cut is checked too
    H = 1e-6

    def setUp(self):
        random.seed(42)
        self.state_dict = init_state_dict(5, self.CONFIG)
        doc_loss(self.TOKENS, self.state_dict, self.CONFIG).backward()

    def loss(self):
        return doc_loss(self.TOKENS, self.state_dict, self.CONFIG).data

    def central_difference(self, weights, direction):
        """d loss / d t at t = 0 of the loss at weights + t * direction."""
        start, sides = [p.data for p in weights], []
        for sign in (1, -1):
            for p, x, d in zip(weights, start, direction):
                p.data = x + sign * self.H * d
            sides.append(self.loss())
        for p, x in zip(weights, start):
            p.data = x
        return (sides[0] - sides[1]) / (2 * self.H)

    def assertAgrees(self, analytic, numeric):
        self.assertAlmostEqual(analytic, numeric, delta=1e-6 * max(1.0, abs(numeric)))

    def test_the_checks_below_compare_gradients_that_are_not_all_zero(self):
        # (a matrix may get none on this document: an adapter that starts at 0)
        self.assertTrue(any(p.grad != 0 for p in parameters(self.state_dict)))

    def test_every_matrix_agrees_along_a_random_direction(self):
        rng = random.Random(0)
        for name, mat in self.state_dict.items():
            weights = [p for row in mat for p in row]
            direction = [rng.choice((-1.0, 1.0)) for _ in weights]
            with self.subTest(name):
                self.assertAgrees(math.fsum(p.grad * d for p, d in zip(weights, direction)),
                                  self.central_difference(weights, direction))

    def test_single_weights_of_every_matrix_agree(self):
        rng = random.Random(1)
        for name, mat in self.state_dict.items():
            for _ in range(3):
                p = rng.choice(rng.choice(mat))
                with self.subTest(name):
                    self.assertAgrees(p.grad, self.central_difference([p], [1.0]))


if __name__ == '__main__':
    unittest.main()


class Run(unittest.TestCase):
    """run(), the lecture's whole run, on input.txt in the current folder."""
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        with open(os.path.join(self.folder, 'input.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'lee']))
        self.config = settings_with(seed=7, n_embd=8, n_head=2, block_size=9, num_steps=4,
                                    learning_rate=0.02, temperature=0.8, num_samples=3)

    def run_in_folder(self):
        here = os.getcwd()
        os.chdir(self.folder)
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                returned = run(self.config)
            return returned, out.getvalue()
        finally:
            os.chdir(here)

    def test_it_prints_what_the_program_prints_with_the_same_settings(self):
        options = [f'--{name}={getattr(self.config, name)}' for name in
                   ('seed', 'n_embd', 'n_head', 'block_size', 'num_steps', 'learning_rate',
                    'temperature', 'num_samples')]
        status, program_out, err = run_main(
            f"--input={os.path.join(self.folder, 'input.txt')}", *options)
        self.assertEqual((status, err), (0, ''))
        self.assertEqual(self.run_in_folder()[1], program_out)

    def test_it_hands_back_the_state_dict_the_tokenizer_and_the_losses_it_printed(self):
        (state_dict, tokenizer, losses), out = self.run_in_folder()
        self.assertEqual(tokenizer.chars, build_tokenizer(['emmaoliviaisabellsphle']).chars)
        self.assertEqual(list(state_dict), [name for name, _, _ in
                                            model_shapes(tokenizer.vocab_size, self.config)])
        self.assertEqual(len(losses), self.config.num_steps)
        for step, loss in enumerate(losses):
            self.assertIn(f'step {step + 1:4d} / {self.config.num_steps:4d} | loss {loss:.4f}',
                          out)

    def test_the_module_settings_are_neither_read_nor_changed(self):
        before = dict(vars(microgpt.settings))
        with mock.patch.object(microgpt, 'settings', settings_with(n_embd=4, n_head=1)):
            _, out = self.run_in_folder()
        self.assertEqual(vars(microgpt.settings), before)
        vocab_size = build_tokenizer(['emmaoliviaisabellsphle']).vocab_size
        self.assertIn(f'num params: {count_parameters(vocab_size, self.config)}', out)
