"""The Value autograd engine: each operation's value and derivative, checked
exactly where the answer is exact and against central finite differences
everywhere else; compositions that reuse a node; and the properties the
rest of the program relies on (depth, no cycles, many-child nodes that give
the same bits as the reference's chains of two-input nodes)."""
import gc
import math
import random
import sys
import unittest

from microgpt import Value, dot, total

# (what, function of Values, point): every operation, then compositions that use
# the same node more than once, whose gradients must add up from every use
FINITE_DIFFERENCE_CASES = [
    ('a + b', lambda a, b: a + b, (1.5, -2.25)),
    ('a * b', lambda a, b: a * b, (1.5, -2.25)),
    ('a ** 3', lambda a: a ** 3, (1.3,)),
    ('a ** -1', lambda a: a ** -1, (0.8,)),
    ('a ** -0.5', lambda a: a ** -0.5, (2.5,)),
    ('log(a)', lambda a: a.log(), (0.7,)),
    ('exp(a)', lambda a: a.exp(), (-0.3,)),
    ('relu(a), a > 0', lambda a: a.relu(), (0.8,)),
    ('relu(a), a < 0', lambda a: a.relu(), (-0.8,)),
    ('-a', lambda a: -a, (0.6,)),
    ('a - b', lambda a, b: a - b, (0.6, 1.7)),
    ('2 - a', lambda a: 2 - a, (0.6,)),
    ('a + 2 and 2 + a', lambda a: (a + 2) * (2 + a), (0.6,)),
    ('2 * a', lambda a: 2 * a, (0.6,)),
    ('a / b', lambda a, b: a / b, (0.6, 1.7)),
    ('2 / a', lambda a: 2 / a, (0.6,)),
    ('total', lambda a, b, c: total([a, b, c]), (0.5, -1.5, 2.0)),
    ('dot', lambda a, b, c, d: dot([a, b], [c, d]), (0.5, -1.5, 2.0, 0.25)),
    ('a * a', lambda a: a * a, (0.9,)),
    ('(a + b) * a', lambda a, b: (a + b) * a, (0.9, -0.4)),
    ('a used four ways', lambda a, b: a * b + a.exp() - a / b + a.relu(), (0.9, 1.3)),
    ('dot(x, x)', lambda a, b: dot([a, b], [a, b]), (0.9, -0.4)),
    ('softmax-like', lambda a, b: a.exp() / total([a.exp(), b.exp()]), (0.3, -0.2)),
    ('rmsnorm-like', lambda a, b: a * ((dot([a, b], [a, b]) / 2 + 1e-5) ** -0.5), (0.3, -0.2)),
    ('log of a long product', lambda a, b: (a * b * a * b * a).log(), (1.1, 0.7)),
]


def gradients(f, point):
    """f's value and its gradient at point, by backward()."""
    inputs = [Value(x) for x in point]
    out = f(*inputs)
    out.backward()
    return out.data, [x.grad for x in inputs]


def finite_differences(f, point, h=1e-6):
    """f's gradient at point by central differences: (f(x + h) - f(x - h)) / 2h."""
    def f_at(xs):
        return f(*[Value(x) for x in xs]).data
    grads = []
    for i in range(len(point)):
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        grads.append((f_at(up) - f_at(down)) / (2 * h))
    return grads


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


class Operations(unittest.TestCase):
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

    def test_relu_passes_no_gradient_at_exactly_zero(self):
        for x in (0.0, -0.0, 0):
            self.assertEqual(repr(gradients(lambda a: a.relu(), (x,))), '(0, [0.0])')

    def test_a_value_shows_its_data_and_gradient(self):
        x = Value(2.5)
        (x * x).backward()
        self.assertEqual(repr(x), 'Value(data=2.5, grad=5.0)')
        self.assertEqual(repr(Value(-1.0)), 'Value(data=-1.0, grad=0)')

    def test_gradients_agree_with_finite_differences(self):
        for what, f, point in FINITE_DIFFERENCE_CASES:
            with self.subTest(what):
                _, analytic = gradients(f, point)
                for got, want in zip(analytic, finite_differences(f, point)):
                    self.assertAlmostEqual(got, want, delta=1e-6 * max(1.0, abs(want)))

    def test_values_and_local_derivatives_are_exact(self):
        # (what, function, point, value, gradient): numbers exact in binary
        for what, f, point, value, grads in [
            ('a + b', lambda a, b: a + b, (2.0, 3.0), 5.0, [1, 1]),
            ('a * b', lambda a, b: a * b, (2.0, 3.0), 6.0, [3.0, 2.0]),
            ('a ** 3', lambda a: a ** 3, (2.0,), 8.0, [12.0]),
            ('a ** -0.5', lambda a: a ** -0.5, (4.0,), 0.5, [-0.0625]),
            ('log(a)', lambda a: a.log(), (1.0,), 0.0, [1.0]),
            ('exp(a)', lambda a: a.exp(), (0.0,), 1.0, [1.0]),
            ('relu(a), a > 0', lambda a: a.relu(), (3.0,), 3.0, [1.0]),
            ('relu(a), a < 0', lambda a: a.relu(), (-3.0,), 0, [0.0]),
            ('-a', lambda a: -a, (3.0,), -3.0, [-1]),
            ('a - b', lambda a, b: a - b, (3.0, 5.0), -2.0, [1, -1]),
            ('a / b', lambda a, b: a / b, (3.0, 4.0), 0.75, [0.25, -0.1875]),
            ('total', lambda a, b: total([a, b]), (3.0, 4.0), 7.0, [1, 1]),
            ('dot', lambda a, b: dot([a], [b]), (3.0, 4.0), 12.0, [4.0, 3.0]),
        ]:
            with self.subTest(what):
                self.assertEqual(gradients(f, point), (value, grads))

    def test_division_multiplies_by_a_power_node(self):
        # 4.3 / 3.91 and 4.3 * 3.91 ** -1 differ in the last bit; the reference uses the latter
        self.assertEqual((Value(4.3) / Value(3.91)).data, 4.3 * 3.91 ** -1)
        self.assertNotEqual(4.3 * 3.91 ** -1, 4.3 / 3.91)

    def test_each_division_makes_its_own_power_node(self):
        a, b, c = Value(1.0), Value(2.0), Value(3.0)
        power_of_c_in_a, power_of_c_in_b = (a / c)._children[1], (b / c)._children[1]
        self.assertIsNot(power_of_c_in_a, power_of_c_in_b)
        self.assertIs(power_of_c_in_a._children[0], c)

    def test_plain_numbers_are_wrapped_as_constants(self):
        for node in (Value(1.0) + 2, 2 + Value(1.0), Value(1.0) * 2, 2 * Value(1.0)):
            self.assertIsInstance(node._children[1], Value)
            self.assertEqual(node._children[1].data, 2)

    def test_gradient_starts_as_integer_zero(self):
        self.assertEqual(repr(Value(1.5).grad), '0')


class ManyChildNodes(unittest.TestCase):
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
            results.append((repr(out.data), [repr(x.grad) for x in inputs]))
        return results

    def test_total_equals_a_chain_of_additions(self):
        chain, node = self.chain_and_node(lambda xs: sum(xs), total, 40)
        self.assertEqual(chain, node)

    def test_dot_equals_a_chain_of_products_and_additions(self):
        half = 21
        chain, node = self.chain_and_node(
            lambda xs: sum(a * b for a, b in zip(xs[:half], xs[half:])),
            lambda xs: dot(xs[:half], xs[half:]), 40)
        self.assertEqual(chain, node)

    def test_dot_of_a_vector_with_itself_equals_the_chain(self):
        chain, node = self.chain_and_node(lambda xs: sum(x * x for x in xs),
                                          lambda xs: dot(xs, xs), 30)
        self.assertEqual(chain, node)

    def test_dot_records_children_in_the_chains_order(self):
        a, b = [Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]
        node = dot(a, b)
        self.assertEqual(node._children, (a[0], b[0], a[1], b[1]))
        self.assertEqual(node._local_grads, (3.0, 1.0, 4.0, 2.0))


class Backward(unittest.TestCase):
    def test_a_graph_far_deeper_than_the_recursion_limit(self):
        x = Value(1.0)
        y = x
        for _ in range(100_000):
            y = y * 1.0 + 0.0
        y.backward()
        self.assertEqual(x.grad, 1.0)

    def test_gradients_from_every_use_add_up(self):
        x = Value(3.0)
        y = x * x + x  # dy/dx = 2x + 1
        y.backward()
        self.assertEqual(x.grad, 7.0)

    @unittest.skipUnless(sys.implementation.name == 'cpython',
                         'only CPython frees objects by reference counting; PyPy always '
                         'leaves them to its collector, so there is nothing to observe')
    def test_the_graph_has_no_reference_cycles(self):
        # with the collector paused, whatever it finds afterwards would be a cycle
        gc.collect()
        gc.disable()
        try:
            xs = [Value(random.gauss(0, 1)) for _ in range(8)]
            loss = (total([x.exp() for x in xs]).log() - dot(xs, xs) / 3).relu()
            loss.backward()
            del xs, loss
            self.assertEqual(gc.collect(), 0)
        finally:
            gc.enable()


if __name__ == '__main__':
    unittest.main()
