"""The model's pieces: parameters, the building blocks of the forward pass,
the KV cache, and the loss gradient of every matrix against finite differences."""
import math
import random
import unittest

from microgpt import (Value, build_vocab, doc_loss, encode, gpt, init_state_dict, linear,
                      parameters, rmsnorm, softmax)

LAYER_MATRICES = ['attn_wq', 'attn_wk', 'attn_wv', 'attn_wo', 'mlp_fc1', 'mlp_fc2']


def fresh_cache(n_layer):
    return [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]


class Parameters(unittest.TestCase):
    def setUp(self):
        random.seed(42)

    def test_matrices_come_in_the_reference_order_with_their_shapes(self):
        state_dict = init_state_dict(vocab_size=27, n_layer=2, n_embd=16, block_size=8)
        expected = [('wte', 27, 16), ('wpe', 8, 16), ('lm_head', 27, 16)] + [
            (f'layer{i}.{name}', rows, cols) for i in range(2)
            for name, rows, cols in zip(LAYER_MATRICES, [16, 16, 16, 16, 64, 16],
                                        [16, 16, 16, 16, 16, 64])]
        self.assertEqual([(key, len(m), len(m[0])) for key, m in state_dict.items()], expected)

    def test_the_default_model_has_4192_parameters(self):
        self.assertEqual(len(parameters(init_state_dict(27, 1, 16, 16))), 4192)

    def test_weights_are_drawn_row_by_row_in_parameter_order(self):
        params = parameters(init_state_dict(5, 1, 4, 3))
        random.seed(42)
        self.assertEqual([p.data for p in params], [random.gauss(0, 0.08) for _ in params])


class Tokenizer(unittest.TestCase):
    def test_vocabulary_is_the_sorted_set_of_characters(self):
        self.assertEqual(build_vocab(['émile', 'zoë', 'ada']), list('adeilmozéë'))

    def test_a_document_is_framed_by_BOS_on_both_sides(self):
        chars = build_vocab(['abc'])
        stoi = {ch: i for i, ch in enumerate(chars)}
        self.assertEqual(encode('cab', stoi, BOS=3), [3, 2, 0, 1, 3])


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
    def setUp(self):
        random.seed(42)
        self.state_dict = init_state_dict(vocab_size=6, n_layer=2, n_embd=8, block_size=6)

    def logits_of(self, tokens):
        keys, values = fresh_cache(2)
        return [[l.data for l in gpt(t, pos, keys, values, self.state_dict, n_head=2)]
                for pos, t in enumerate(tokens)]

    def test_the_cache_grows_by_one_position_per_layer_and_call(self):
        keys, values = fresh_cache(2)
        for pos, token in enumerate([5, 1, 2]):
            logits = gpt(token, pos, keys, values, self.state_dict, n_head=2)
            self.assertEqual(len(logits), 6)
            self.assertEqual([len(k) for k in keys] + [len(v) for v in values], [pos + 1] * 4)

    def test_a_position_never_sees_the_tokens_after_it(self):
        a, b = self.logits_of([5, 1, 2, 3]), self.logits_of([5, 1, 4, 0])
        self.assertEqual(a[:2], b[:2])
        self.assertNotEqual(a[2], b[2])


class LossGradient(unittest.TestCase):
    """backward() through the whole model agrees with finite differences, for
    a few weights of every matrix of a small two-layer model."""

    def setUp(self):
        random.seed(42)

    def test_every_matrix_agrees_with_finite_differences(self):
        n_layer, n_head, block_size = 2, 2, 5
        state_dict = init_state_dict(vocab_size=5, n_layer=n_layer, n_embd=4, block_size=block_size)
        tokens = [4, 0, 2, 1, 3, 3, 0, 4]  # longer than block_size: the cut is checked too
        loss = doc_loss(tokens, state_dict, n_layer, n_head, block_size)
        loss.backward()

        def loss_at(p, x):
            p.data = x
            return doc_loss(tokens, state_dict, n_layer, n_head, block_size).data

        h = 1e-6
        for name, matrix in state_dict.items():
            for _ in range(3):
                p = random.choice(random.choice(matrix))
                x = p.data
                numeric = (loss_at(p, x + h) - loss_at(p, x - h)) / (2 * h)
                p.data = x
                with self.subTest(name):
                    self.assertAlmostEqual(p.grad, numeric, delta=1e-6 * max(1.0, abs(numeric)))


if __name__ == '__main__':
    unittest.main()
