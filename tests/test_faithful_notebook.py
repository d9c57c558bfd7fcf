"""Faithful in a notebook: the lecture alone, pasted one section per cell, prints
the reference program's bytes.

The lecture is everything above the line that opens the program part (a line
beginning "# The program"). A notebook runs it as cells in one namespace, with
no __file__ and no __main__; a lecturer then sets a setting or two and calls
run(settings) with input.txt in the current folder. After a change to the model
these tests fail, as every faithful test does, and say so."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests.harness import ROOT, SCRIPT, FaithfulTestCase, expected_bytes, seconds

# A notebook: each cell compiled on its own and run in the one namespace
NOTEBOOK = '''
import json, sys
cells, changes = json.load(sys.stdin)
ns = {"__name__": "__notebook__"}
for number, cell in enumerate(cells):
    exec(compile(cell, f"<cell {number}>", "exec"), ns)
for name, value in changes.items():
    setattr(ns["settings"], name, value)
ns["run"](ns["settings"])
'''


def lecture_cells():
    """The lecture, cut where each top-level comment opens a new section."""
    with open(SCRIPT, encoding='utf-8') as f:
        lines = f.read().split('\n')
    cut = next(i for i, line in enumerate(lines) if line.startswith('# The program'))
    cells, cell = [], []
    for line in lines[:cut]:
        if line.startswith('# ') and cell and cell[-1] == '':  # a section's heading
            cells.append('\n'.join(cell))
            cell = []
        cell.append(line)
    return cells + ['\n'.join(cell)]


class Notebook(FaithfulTestCase):
    whose = "the lecture's, run in a notebook,"

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp()
        shutil.copy(os.path.join(ROOT, 'input.txt'), cls.folder)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.folder)

    def run_notebook(self, **changes):
        result = subprocess.run([sys.executable, '-c', NOTEBOOK], cwd=self.folder,
                                input=json.dumps([lecture_cells(), changes]).encode(),
                                capture_output=True, timeout=600)
        self.assertEqual(result.returncode, 0, result.stderr.decode('utf-8', 'replace'))
        return result.stdout

    def test_the_lecture_is_cut_into_a_cell_for_each_section(self):
        cells = lecture_cells()
        self.assertGreaterEqual(len(cells), 8)
        self.assertTrue(all(cell.strip() for cell in cells))

    def test_20_steps_print_the_reference_bytes(self):
        self.assertSame(self.run_notebook(num_steps=20), expected_bytes('short20.stdout'),
                        'stdout of the notebook')

    @seconds
    def test_a_wider_deeper_model_prints_the_reference_bytes(self):
        self.assertSame(self.run_notebook(n_layer=2, n_embd=32, n_head=4, num_steps=10),
                        expected_bytes('wide.stdout'), 'stdout of the notebook')


if __name__ == '__main__':
    unittest.main()
