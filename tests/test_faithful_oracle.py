"""Faithful to the plain oracle: microgpt.py against tests/plain_microgpt.py.

The stored references cover three settings on one dataset. Here both
implementations train and sample on other settings and datasets, random ones
among them, and every number must come out identical: each step's loss, every
gradient of every step, the final weights, the samples and the printed bytes.
This is how the fast path earns trust beyond the references.

A change to the lecture's model that the oracle does not share makes these
tests fail, and each failure says so; the oracle, in turn, is checked against
the reference in test_faithful_reference.
"""
import gc
import os
import random
import unittest
from unittest import mock

import microgpt
from tests import plain_microgpt
from tests.harness import (PLAIN_SCRIPT, ROOT, FaithfulTestCase, record_run, reprs, run_script,
                           seconds)

ALPHABET = 'abcdefghij' + 'äßé' + '中文字' + ' -.'


def random_case(rng):
    """A random dataset and settings, small enough for the plain oracle."""
    n_head = rng.choice([1, 2, 3, 4])
    docs = [''.join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 14)))
            for _ in range(rng.randint(3, 12))]
    settings = dict(seed=rng.randint(0, 10**6), n_layer=rng.choice([1, 2, 3]),
                    n_embd=n_head * rng.choice([1, 2, 3]), n_head=n_head,
                    block_size=rng.randint(1, 12), num_steps=rng.randint(1, 4),
                    learning_rate=rng.choice([0.003, 0.01, 0.05]),
                    temperature=rng.choice([0.3, 0.5, 1.0, 1.7]), num_samples=3)
    # half the cases start their samples from a prompt: the start of a document
    # (some of it, all of it, or nothing), short enough to leave a position to draw
    doc = rng.choice(docs)
    settings['prompt'] = rng.choice(['', doc[:rng.randint(0, settings['block_size'] - 1)]])
    return docs, settings


def comparable(run):
    return {key: reprs(values) if key in ('losses', 'weights') else
            [reprs(g) for g in values] if key == 'grads' else values
            for key, values in run.items()}


class OracleTestCase(FaithfulTestCase):
    against = "the plain oracle's (tests/plain_microgpt.py)"
    changed = 'the model that the oracle does not share'

    @classmethod
    def setUpClass(cls):
        cls.names = microgpt.load_docs(os.path.join(ROOT, 'input.txt'))

    def setUp(self):
        random.seed(42)
        gc.disable()  # the oracle's graphs run to a million nodes: scanning them only costs time
        self.addCleanup(gc.enable)

    def assertSameRun(self, docs, settings):
        fast = comparable(record_run(microgpt, docs, **settings))
        plain = comparable(record_run(plain_microgpt, docs, **settings))
        self.assertSame(fast['losses'], plain['losses'], 'losses')
        self.assertSameSteps(fast['grads'], plain['grads'])
        self.assertSame(fast['weights'], plain['weights'], 'final weights')
        self.assertSame(fast['samples'], plain['samples'], 'samples')


class SameNumbersAsThePlainOracle(OracleTestCase):
    @seconds
    def test_20_steps_of_the_default_model_give_the_oracles_every_gradient(self):
        # the reference gives the first step's gradients only; the oracle gives the
        # other steps' too, every one of them: one rounding in a thousand shows
        self.assertSameRun(self.names, dict(num_steps=20, num_samples=0))

    @seconds
    def test_random_settings_and_datasets_give_the_plain_oracle_s_numbers(self):
        rng = random.Random(2026)
        for case in range(12):
            docs, settings = random_case(rng)
            with self.subTest(case=case, settings=settings):
                self.assertSameRun(docs, settings)

    def test_the_sampling_weights_match_to_the_last_bit(self):
        # the draws hide a last-bit change in the probabilities (the same token comes
        # out), so the weights handed to random.choices are compared themselves; at
        # this temperature l * (1 / t) and the reference's l / t = l * t ** -1 differ
        weights = {}
        for model in (microgpt, plain_microgpt):
            seen = weights[model.__name__] = []
            real_choices = random.choices

            def choices(population, weights, seen=seen, real_choices=real_choices):
                seen.append(reprs(weights))
                return real_choices(population, weights)
            with mock.patch.object(random, 'choices', choices):
                record_run(model, ['emma', 'olivia', 'ava', 'isabella', 'sophia'], n_embd=8,
                           n_head=2, num_steps=2, temperature=1.739218999090753, num_samples=4)
        self.assertGreater(len(weights['microgpt']), 4)
        self.assertSameSteps(weights['microgpt'], weights['tests.plain_microgpt'], 'weights',
                             unit='draw')

    @seconds
    def test_a_deep_model_on_long_documents(self):
        # deeper than the reference's recursion survives (it fails from 8 layers)
        # and with the longest context, cut from documents longer than it
        rng = random.Random(7)
        docs = [''.join(rng.choice('abcdef') for _ in range(90)) for _ in range(3)]
        self.assertSameRun(docs, dict(n_layer=12, n_embd=2, n_head=2, block_size=64,
                                      num_steps=1, num_samples=1))


class PromptsAsThePlainOracle(OracleTestCase):
    @seconds
    def test_samples_from_a_prompt_are_the_oracles(self):
        for prompt in ['ma', 'christoph', 'abcdefghijklmno']:
            with self.subTest(prompt):
                settings = dict(num_steps=1, num_samples=4, prompt=prompt)
                fast = record_run(microgpt, self.names, **settings)
                plain = record_run(plain_microgpt, self.names, **settings)
                self.assertSame(fast['samples'], plain['samples'], 'samples')


class PrintedAsThePlainOracle(OracleTestCase):
    """The script prints the very bytes of the oracle's script."""

    def assertSamePrinted(self, *args):
        fast = run_script(*args)
        self.assertEqual((fast.returncode, fast.stderr), (0, b''))
        plain = run_script(*args, script=PLAIN_SCRIPT)
        self.assertEqual((plain.returncode, plain.stderr), (0, b''))
        self.assertSame(fast.stdout, plain.stdout, 'stdout')

    @seconds
    def test_the_untrained_model_prints_the_oracles_samples(self):
        self.assertSamePrinted('--num_steps=0')

    @seconds
    def test_samples_from_a_prompt_print_as_the_oracles(self):
        self.assertSamePrinted('--num_steps=2', '--num_samples=6', '--prompt=el')


if __name__ == '__main__':
    unittest.main()
