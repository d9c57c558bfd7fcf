"""The Value autograd engine: each operation's value and derivative, checked
exactly where the answer is exact and against central finite differences
everywhere else; compositions that reuse a node; and the properties the
rest of the program relies on (any depth, no cycles). That each operation
rounds as the reference's does, to the last bit, is checked in
test_faithful_reference."""
import gc
import random
import sys
import unittest

from microgpt import Value, dot, total
from tests.harness import run_main

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


class Operations(unittest.TestCase):
    def test_relu_passes_no_gradient_at_exactly_zero(self):
        for x in (0.0, -0.0, 0):
            self.assertEqual(gradients(lambda a: a.relu(), (x,)), (0, [0]))

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

    def test_plain_numbers_are_wrapped_as_constants(self):
        for node in (Value(1.0) + 2, 2 + Value(1.0), Value(1.0) * 2, 2 * Value(1.0)):
            self.assertIsInstance(node._children[1], Value)
            self.assertEqual(node._children[1].data, 2)

    def test_a_gradient_starts_at_zero(self):
        self.assertEqual(Value(1.5).grad, 0)


class Backward(unittest.TestCase):
    def test_a_model_far_deeper_than_the_recursion_limit_trains_through_the_program(self):
        # backward() recurses once for each node on the graph's longest path, which grows
        # with every layer: the program lifts Python's limit of 1000 calls to fit
        n_layer = 100
        status, out, err = run_main(f'--n_layer={n_layer}', '--n_embd=4', '--n_head=1',
                                    '--block_size=4', '--num_steps=1', '--num_samples=1')
        self.assertEqual((status, err), (0, ''))
        self.assertIn('step    1 /    1 |', out)

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
