"""The reference bytes wherever students run Python: without the names only POSIX has
(as on Windows), with a stdout that cannot be reconfigured (as in IDLE), and with math's
errors worded as Python 3.14 words them. Pyodide, the browser's Python, is run by .ci/run."""
import unittest

from tests.harness import PLACES, FaithfulTestCase, expected_bytes, run_in_place


class EveryPlace(FaithfulTestCase):
    whose = 'the script\'s, run where students run it,'

    def test_20_steps_print_the_reference_bytes(self):
        for place in PLACES:
            with self.subTest(place=place):
                status, stdout, stderr = run_in_place(place, '--num_steps=20')
                self.assertEqual((status, stderr), (0, ''))
                self.assertSame(stdout, expected_bytes('short20.stdout'), f'stdout in {place}')


if __name__ == '__main__':
    unittest.main()
