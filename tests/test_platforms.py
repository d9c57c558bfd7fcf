"""Wherever students run Python, the script saves, loads, and refuses bad input in one
line: without the names only POSIX has (as on Windows), with a stdout that cannot be
reconfigured (as in IDLE), and with math's errors in Python 3.14's words. What it
expects comes from the run itself: the samples of a save are those of its load."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests.harness import PLACES, ROOT, SCRIPT, run_in_place

SMALL = ['--n_embd=4', '--n_head=1', '--block_size=8', '--num_samples=3']


class EveryPlace(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        self.names = shutil.copy(os.path.join(ROOT, 'input.txt'), self.tmp)

    def run_at(self, place, *args):
        return run_in_place(place, *args, cwd=self.tmp)

    def test_a_saved_run_loads_and_samples_as_it_did(self):
        for place in PLACES:
            with self.subTest(place=place):
                status, saved, stderr = self.run_at(place, '--input', self.names, *SMALL,
                                                 '--num_steps=3', '--save=ck.json')
                self.assertEqual((status, stderr), (0, ''))
                status, loaded, stderr = self.run_at(place, '--load=ck.json', '--num_steps=0',
                                                  '--num_samples=3')
                self.assertEqual((status, stderr), (0, ''))
                self.assertEqual(loaded[loaded.index(b'--- inference'):],
                                 saved[saved.index(b'--- inference'):])

    def test_bad_input_is_refused_in_one_line(self):
        for place in PLACES:
            with self.subTest(place=place):
                status, _, stderr = self.run_at(place, '--input', self.names, '--n_embd=5',
                                             '--n_head=2')
                self.assertEqual(status, 2)
                self.assertEqual(stderr.splitlines(), [stderr.strip()])
                self.assertIn('--n_embd=5 must be divisible by --n_head=2', stderr)

    def test_a_learning_rate_that_breaks_training_down_is_a_divergence_in_one_line(self):
        for place in PLACES:
            with self.subTest(place=place):
                status, _, stderr = self.run_at(place, '--input', self.names, *SMALL,
                                             '--learning_rate=1000', '--num_steps=20')
                self.assertEqual(status, 2)
                self.assertEqual(stderr.splitlines(), [stderr.strip()])
                self.assertIn('training diverged at step', stderr)

if __name__ == '__main__':
    unittest.main()


class JupytersRun(unittest.TestCase):
    def test_a_run_leaves_the_interpreter_as_it_found_it(self):
        # %run runs the script as __main__ in the kernel, which goes on after it
        code = ('import gc, runpy, signal, sys\n'
                'state = lambda: (sys.getrecursionlimit(), gc.isenabled(), signal.getsignal(2))\n'
                'before = state()\n'
                f'sys.argv = [{SCRIPT!r}, "--n_layer=30", "--n_embd=4", "--n_head=1",\n'
                '            "--block_size=4", "--num_steps=1", "--num_samples=0"]\n'
                'runpy.run_path(sys.argv[0], run_name="__main__")\n'
                'print(before == state(), file=sys.stderr)\n')
        result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, timeout=120,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.assertEqual(result.stderr.decode().split(), ['True'])
