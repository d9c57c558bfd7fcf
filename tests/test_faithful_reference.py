"""Faithful to the reference program: its outputs, matched exactly.

Every figure here comes from the reference program: its outputs, copied into
tests/expected/, its 4,192 weights in its matrices' order and shapes, and its
formula for every operation, to the last bit. Losses and gradients are compared
as repr() strings, so the comparison is bit for bit; printed output is compared
byte for byte. No tolerance anywhere: the bits are the promise.

A change to the model (another matrix, another width, another operation) makes
these tests fail, and says so in each failure: that is what they are for. The
other test modules derive what they expect from the code and keep passing.
"""
import gc
import math
import os
import random
import unittest

import microgpt
from microgpt import Value, dot, total
from tests import plain_microgpt
from tests.harness import (PLAIN_SCRIPT, ROOT, SLOW, SLOW_REASON, FaithfulTestCase,
                           expected_bytes, expected_lines, record_run, reprs, run_script,
                           settings_with, seconds)

WIDE = dict(n_layer=2, n_embd=32, n_head=4)
WIDE_ARGS = ['--n_layer=2', '--n_embd=32', '--n_head=4', '--num_steps=10']
LAYER_MATRICES = ['attn_wq', 'attn_wk', 'attn_wv', 'attn_wo', 'mlp_fc1', 'mlp_fc2']


class ReferenceTestCase(FaithfulTestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = microgpt.load_docs(os.path.join(ROOT, 'input.txt'))

    def setUp(self):
        random.seed(42)
        gc.disable()  # a step's graph is acyclic; scanning it for cycles only costs time
        self.addCleanup(gc.enable)

    def assertTrainsAsRecorded(self, model, name, num_steps, gradients=False, **settings):
        """`model` (microgpt or the plain oracle) trains on the reference's settings, with
        `settings` changed, as the reference's run `name` did: every loss of its num_steps
        (tests/expected/NAME.losses), and with `gradients`, every gradient of its first
        step (NAME.grads1)."""
        run = record_run(model, self.docs, num_steps=num_steps, num_samples=0, **settings)
        self.assertSame(reprs(run['losses']), expected_lines(f'{name}.losses')[:num_steps],
                        'losses')
        if gradients:
            self.assertSame(reprs(run['grads'][0]), expected_lines(f'{name}.grads1'),
                            'gradients of step 1')


def printed(*args, script=None):
    """What a run of the script prints, once it has ended well."""
    result = run_script(*args, **({'script': script, 'timeout': 1800} if script else {}))
    assert result.returncode == 0 and result.stderr == b'', (result.returncode, result.stderr)
    return result.stdout


class DefaultSettings(ReferenceTestCase):
    def test_the_first_loss_and_all_4192_gradients_match(self):
        self.assertTrainsAsRecorded(microgpt, 'default', 1, gradients=True)

    @unittest.skipUnless(SLOW, SLOW_REASON)
    def test_a_full_run_prints_the_reference_bytes(self):
        self.assertSame(printed(), expected_bytes('default.stdout'), 'stdout')

    @unittest.skipUnless(SLOW, SLOW_REASON)
    def test_a_full_run_matches_every_loss(self):
        self.assertTrainsAsRecorded(microgpt, 'default', 1000)


class Short20(ReferenceTestCase):
    def test_20_steps_print_the_reference_bytes(self):
        self.assertSame(printed('--num_steps=20'), expected_bytes('short20.stdout'), 'stdout')

    def test_20_steps_match_every_loss(self):
        self.assertTrainsAsRecorded(microgpt, 'short20', 20)


class Wide(ReferenceTestCase):
    """n_layer=2, n_embd=32, n_head=4, num_steps=10."""

    @seconds
    def test_a_wide_model_prints_the_reference_bytes(self):
        self.assertSame(printed(*WIDE_ARGS), expected_bytes('wide.stdout'), 'stdout')

    @seconds
    def test_a_wide_model_matches_every_loss_and_the_first_gradients(self):
        self.assertTrainsAsRecorded(microgpt, 'wide', 10, gradients=True, **WIDE)


class ReferenceModel(FaithfulTestCase):
    """The reference's model: its matrices, their order and shapes, and the order
    in which their weights are drawn."""

    def setUp(self):
        random.seed(42)

    def test_the_matrices_come_in_the_reference_order_with_its_shapes(self):
        state_dict = microgpt.init_state_dict(27, settings_with(n_layer=2, block_size=8))
        expected = [('wte', 27, 16), ('wpe', 8, 16), ('lm_head', 27, 16)] + [
            (f'layer{i}.{name}', rows, cols) for i in range(2)
            for name, rows, cols in zip(LAYER_MATRICES, [16, 16, 16, 16, 64, 16],
                                        [16, 16, 16, 16, 16, 64])]
        self.assertSame([(key, len(m), len(m[0])) for key, m in state_dict.items()], expected,
                        'matrices (name, rows, columns)')

    def test_the_default_model_has_the_references_4192_weights(self):
        state_dict = microgpt.init_state_dict(27, microgpt.settings)
        self.assertEqual(len(microgpt.parameters(state_dict)), 4192, 'number of weights')

    def test_the_weights_are_drawn_from_gauss_0_008_row_by_row_in_parameter_order(self):
        params = microgpt.parameters(microgpt.init_state_dict(
            5, settings_with(n_embd=4, n_head=2, block_size=3)))
        random.seed(42)
        self.assertSame(reprs(p.data for p in params),
                        reprs(random.gauss(0, 0.08) for _ in params), 'weights')


def gradients(f, point):
    """f's value and its gradient at point, by backward()."""
    inputs = [Value(x) for x in point]
    out = f(*inputs)
    out.backward()
    return out.data, [x.grad for x in inputs]


def model_range(rng, n, positive=False):
    """n inputs as the model meets them: both signs, tiny to large, and exact 0s."""
    xs = [rng.gauss(0, 1) * 10 ** rng.uniform(-4, 3) for _ in range(n)] + [0.0, -0.0, 1.0, -1.0]
    return [abs(x) or 1.5 for x in xs] if positive else xs


# (what, on Values, its value in plain numbers, the gradient of each input as the
# reference's backward() composes it: each local derivative times the gradient that
# reaches it, added to 0). Powers through math.pow, which is CPython's ** exactly;
# ints stay ints where the reference has them (1, -1, 2).
EXACT = [
    ('a + b', lambda a, b: a + b, lambda x, y: x + y, lambda x, y: [1, 1]),
    ('a * b', lambda a, b: a * b, lambda x, y: x * y, lambda x, y: [y * 1, x * 1]),
    ('a + 2', lambda a: a + 2, lambda x: x + 2, lambda x: [1]),
    ('2 + a', lambda a: 2 + a, lambda x: x + 2, lambda x: [1]),
    ('a * 2', lambda a: a * 2, lambda x: x * 2, lambda x: [2]),
    ('2 * a', lambda a: 2 * a, lambda x: x * 2, lambda x: [2]),
    ('-a', lambda a: -a, lambda x: x * -1, lambda x: [-1]),
    ('a - b', lambda a, b: a - b, lambda x, y: x + y * -1, lambda x, y: [1, -1]),
    ('a - 2', lambda a: a - 2, lambda x: x + -2, lambda x: [1]),
    ('2 - a', lambda a: 2 - a, lambda x: 2 + x * -1, lambda x: [-1]),
    ('a / b', lambda a, b: a / b, lambda x, y: x * math.pow(y, -1),
     lambda x, y: [math.pow(y, -1) * 1, (-1 * math.pow(y, -2)) * (x * 1)]),
    ('a / 2', lambda a: a / 2, lambda x: x * 2 ** -1, lambda x: [2 ** -1 * 1]),
    ('2 / a', lambda a: 2 / a, lambda x: 2 * math.pow(x, -1),
     lambda x: [(-1 * math.pow(x, -2)) * (2 * 1)]),
    ('log(a)', lambda a: a.log(), math.log, lambda x: [(1 / x) * 1]),
    ('exp(a)', lambda a: a.exp(), math.exp, lambda x: [math.exp(x) * 1]),
    ('relu(a)', lambda a: a.relu(), lambda x: max(0, x), lambda x: [float(x > 0) * 1]),
    ('total', lambda a, b, c: total([a, b, c]), lambda x, y, z: 0 + x + y + z,
     lambda x, y, z: [1, 1, 1]),
    ('dot', lambda a, b, c, d: dot([a, b], [c, d]), lambda x, y, z, w: 0 + x * z + y * w,
     lambda x, y, z, w: [z * 1, w * 1, x * 1, y * 1]),
] + [(f'a ** {k}', lambda a, k=k: a ** k, lambda x, k=k: math.pow(x, k),
      lambda x, k=k: [(k * math.pow(x, k - 1)) * 1]) for k in (2, 3, -1, -2, 0.5, -0.5, 1.5)]
POSITIVE = {'log(a)', 'a / b', '2 / a'} | {f'a ** {k}' for k in (-1, -2, 0.5, -0.5, 1.5)}


class ReferenceOperations(FaithfulTestCase):
    """Each operation of Value computes the reference's formula, to the last bit."""

    def test_every_value_and_gradient_is_the_references_to_the_last_bit(self):
        # 10,000 random inputs: a change of formula that rounds differently for one
        # input in a thousand (1 / a against a ** -1, say) cannot hide
        rng = random.Random(10)
        for what, f, value, grads in EXACT:
            arity = f.__code__.co_argcount - (what.startswith('a **'))
            columns = [model_range(rng, 10_000, what in POSITIVE) for _ in range(arity)]
            if what == 'a / b':  # the divisor is positive where the model divides
                columns[0] = model_range(rng, 10_000)
            if what == 'exp(a)':  # softmax shifts its scores to at most 0 first
                columns = [[-abs(x) for x in columns[0]]]
            with self.subTest(what):
                for point in zip(*columns):
                    got = gradients(f, point)
                    want = (value(*point), [0 + g for g in grads(*point)])  # grad starts at 0
                    if repr(got) != repr(want):
                        self.fail(f'{what} at {point}: got {got!r}, the reference {want!r}')

    def test_relu_at_exactly_zero_gives_the_references_int_0_and_float_gradient(self):
        for x in (0.0, -0.0, 0):
            self.assertEqual(repr(gradients(lambda a: a.relu(), (x,))), '(0, [0.0])')

    def test_a_gradient_starts_as_the_integer_0(self):
        self.assertEqual(repr(Value(1.5).grad), '0')

    def test_division_multiplies_by_a_power_node(self):
        # 4.3 / 3.91 and 4.3 * 3.91 ** -1 differ in the last bit; the reference uses the latter
        self.assertEqual(repr((Value(4.3) / Value(3.91)).data), repr(4.3 * 3.91 ** -1))
        self.assertNotEqual(4.3 * 3.91 ** -1, 4.3 / 3.91)

    def test_each_division_makes_its_own_power_node(self):
        a, b, c = Value(1.0), Value(2.0), Value(3.0)
        power_of_c_in_a, power_of_c_in_b = (a / c)._children[1], (b / c)._children[1]
        self.assertIsNot(power_of_c_in_a, power_of_c_in_b)
        self.assertIs(power_of_c_in_a._children[0], c)


class ManyChildNodes(FaithfulTestCase):
    """total() and dot() stand for the reference's chains 0 + a0 + a1 + ...:
    the same value and the same gradients, to the last bit."""

    def setUp(self):
        random.seed(1)

    def chain_and_node(self, build_chain, build_node, n):
        """Both versions on the same random inputs; each gives (value, gradients)."""
        point = [random.gauss(0, 1) for _ in range(n)] + [0.0, -0.0]
        results = []
        for build in (build_chain, build_node):
            inputs = [Value(x) for x in point]
            out = build(inputs).exp()  # a parent, so the node's own gradient is not just 1
            out.backward()
            results.append([repr(out.data)] + [repr(x.grad) for x in inputs])
        return results

    def test_total_equals_a_chain_of_additions(self):
        chain, node = self.chain_and_node(lambda xs: sum(xs), total, 40)
        self.assertSame(node, chain, 'value, then gradients')

    def test_dot_equals_a_chain_of_products_and_additions(self):
        half = 21
        chain, node = self.chain_and_node(
            lambda xs: sum(a * b for a, b in zip(xs[:half], xs[half:])),
            lambda xs: dot(xs[:half], xs[half:]), 40)
        self.assertSame(node, chain, 'value, then gradients')

    def test_dot_of_a_vector_with_itself_equals_the_chain(self):
        chain, node = self.chain_and_node(lambda xs: sum(x * x for x in xs),
                                          lambda xs: dot(xs, xs), 30)
        self.assertSame(node, chain, 'value, then gradients')

    def test_dot_records_children_in_the_chains_order(self):
        a, b = [Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]
        node = dot(a, b)
        self.assertEqual(node._children, (a[0], b[0], a[1], b[1]))
        self.assertEqual(node._local_grads, (3.0, 1.0, 4.0, 2.0))


class PlainOracleAgainstTheReference(ReferenceTestCase):
    """The plain oracle must match the reference too, or comparing with it proves
    nothing; these fail only after a change to the oracle itself."""
    whose, changed = "the plain oracle's (tests/plain_microgpt.py)", 'the oracle'

    def test_the_oracles_first_loss_and_all_4192_gradients_match(self):
        self.assertTrainsAsRecorded(plain_microgpt, 'default', 1, gradients=True)

    @unittest.skipUnless(SLOW, SLOW_REASON)
    def test_the_oracle_prints_the_reference_bytes_of_20_steps(self):
        self.assertSame(printed('--num_steps=20', script=PLAIN_SCRIPT),
                        expected_bytes('short20.stdout'), 'stdout')

    @unittest.skipUnless(SLOW, SLOW_REASON)
    def test_the_oracle_matches_the_wide_losses_and_gradients(self):
        self.assertTrainsAsRecorded(plain_microgpt, 'wide', 10, gradients=True, **WIDE)

    @unittest.skipUnless(SLOW, SLOW_REASON)
    def test_the_oracle_prints_the_reference_bytes_of_a_full_run(self):
        self.assertSame(printed(script=PLAIN_SCRIPT), expected_bytes('default.stdout'), 'stdout')


if __name__ == '__main__':
    unittest.main()
