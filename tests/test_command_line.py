"""The script as people run it: options, datasets from anywhere, bad input,
a missing dataset without network, Ctrl-C. Each case runs microgpt.py in a
subprocess, as a user would, on a short run or a small model."""
import contextlib
import io
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import microgpt
from tests.harness import ROOT, SCRIPT, run_script

NAMES = pathlib.Path(ROOT, 'input.txt')
SHORT = ['--num_steps=3', '--num_samples=3']
WORLD_NAMES = ['zoë', 'jürgen', 'straße', 'émile', '中文', '王芳', 'ana', 'ß']


def stderr_lines(result):
    return result.stderr.decode('utf-8').splitlines()


class CommandLineTestCase(unittest.TestCase):
    def setUp(self):
        random.seed(42)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = pathlib.Path(tmp.name)

    def dataset(self, text, encoding='utf-8', name='data.txt'):
        path = self.tmp / name
        path.write_bytes(text.encode(encoding))
        return str(path)


class Options(CommandLineTestCase):
    def test_help_lists_every_option_with_its_default(self):
        result = run_script('--help')
        self.assertEqual(result.returncode, 0)
        text = ' '.join(result.stdout.decode().split())  # undo argparse's line wrapping
        for option, default in [('--input', os.path.join(ROOT, 'input.txt')), ('--seed', '42'),
                                ('--n_layer', '1'), ('--n_embd', '16'), ('--block_size', '16'),
                                ('--n_head', '4'), ('--num_steps', '1000'),
                                ('--learning_rate', '0.01'), ('--temperature', '0.5'),
                                ('--num_samples', '20')]:
            with self.subTest(option):
                self.assertIn(option, text)
                self.assertIn(f'(default: {default})', text)

    def test_space_and_equals_forms_mean_the_same(self):
        self.assertEqual(run_script('--num_steps', '2', '--num_samples', '2').stdout,
                         run_script('--num_steps=2', '--num_samples=2').stdout)

    def test_the_default_input_is_found_from_any_directory(self):
        result = run_script('--num_steps=0', '--num_samples=0', cwd=self.tmp)
        self.assertEqual(result.stdout.splitlines()[0], b'num docs: 32033')
        self.assertEqual(list(self.tmp.iterdir()), [])

    def test_zero_steps_samples_the_untrained_model_as_the_plain_oracle_does(self):
        plain = os.path.join(ROOT, 'tests', 'plain_microgpt.py')
        result = run_script('--num_steps=0')
        self.assertEqual(result.returncode, 0)
        self.assertTrue(result.stdout.startswith(
            b'num docs: 32033\nvocab size: 27\nnum params: 4192\n\n--- inference'))
        self.assertEqual(result.stdout, run_script('--num_steps=0', script=plain).stdout)


class BadInput(CommandLineTestCase):
    """One line on stderr that names the problem, a non-zero exit, no traceback,
    and nothing on stdout: no training starts."""

    def assertRefused(self, args, *words):
        result = run_script(*args)
        lines = stderr_lines(result)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(result.stdout, b'')
        for word in words:
            self.assertIn(word, lines[0])

    def test_bad_files(self):
        (self.tmp / 'folder').mkdir()
        for what, args, words in [
            ('missing', ['--input', str(self.tmp / 'nope.txt')], ['nope.txt', 'does not exist']),
            ('directory', ['--input', str(self.tmp / 'folder')], ['folder', 'is a directory']),
            ('not UTF-8', ['--input', self.dataset('zoë\nana\n', 'latin-1', 'latin1.txt')],
             ['latin1.txt', 'not UTF-8']),
            ('empty', ['--input', self.dataset('', name='empty.txt')],
             ['empty.txt', 'no documents']),
            ('blank lines only', ['--input', self.dataset('\n  \n\t\r\n', name='blank.txt')],
             ['blank.txt', 'no documents']),
        ]:
            with self.subTest(what):
                self.assertRefused(args, *words)

    def test_bad_options(self):
        for args, words in [
            (['--n_layr=2'], ['unrecognized', '--n_layr']),
            (['stray'], ['unrecognized', 'stray']),
            (['--n_layer'], ['--n_layer', 'expected one argument']),
            (['--n_layer=two'], ['--n_layer', 'whole number', "'two'"]),
            (['--n_layer=1.5'], ['--n_layer', 'whole number', "'1.5'"]),
            (['--seed=x'], ['--seed', 'whole number']),
            (['--temperature=warm'], ['--temperature', 'number', "'warm'"]),
        ]:
            with self.subTest(args):
                self.assertRefused(args, *words)

    def test_values_out_of_range(self):
        for args, words in [
            (['--n_layer=0'], ['--n_layer', 'at least 1']),
            (['--n_embd=0'], ['--n_embd', 'at least 1']),
            (['--n_head=0'], ['--n_head', 'at least 1']),
            (['--block_size=0'], ['--block_size', 'at least 1']),
            (['--n_embd=10', '--n_head=4'], ['--n_embd=10', '--n_head=4', 'divisible']),
            (['--temperature=0'], ['--temperature', 'above 0']),
            (['--temperature=-1'], ['--temperature', 'above 0']),
            (['--learning_rate=0'], ['--learning_rate', 'above 0']),
            (['--learning_rate=nan'], ['--learning_rate', 'above 0']),
            (['--learning_rate=inf'], ['--learning_rate', 'above 0']),
            (['--num_steps=-1'], ['--num_steps', 'at least 0']),
            (['--num_samples=-1'], ['--num_samples', 'at least 0']),
        ]:
            with self.subTest(args):
                self.assertRefused(args, *words)

    def test_a_diverging_run_ends_in_one_line_not_a_traceback(self):
        result = run_script('--learning_rate=100', '--num_steps=5', '--num_samples=0')
        lines = stderr_lines(result)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('--learning_rate', lines[0])


class Datasets(CommandLineTestCase):
    def train(self, path, *args):
        result = run_script('--input', path, *SHORT, *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_a_byte_order_mark_is_not_learned(self):
        plain = self.dataset('\n'.join(WORLD_NAMES), name='plain.txt')
        marked = self.dataset('\ufeff' + '\n'.join(WORLD_NAMES), name='marked.txt')
        self.assertEqual(self.train(marked), self.train(plain))

    def test_windows_and_old_mac_line_ends_train_like_unix_ones(self):
        unix = self.dataset('\n'.join(WORLD_NAMES) + '\n', name='unix.txt')
        for what, eol in [('CRLF', '\r\n'), ('CR', '\r')]:
            with self.subTest(what):
                other = self.dataset(eol.join(WORLD_NAMES) + eol, name=f'{what}.txt')
                self.assertEqual(self.train(other), self.train(unix))

    def test_non_ascii_letters_train_and_print_whatever_the_locale(self):
        # an ASCII-only locale and console: reading and printing must not depend on them
        env = dict(os.environ, LC_ALL='C', LANG='C', PYTHONUTF8='0', PYTHONIOENCODING='ascii')
        path = self.dataset('\n'.join(WORLD_NAMES * 3))
        result = run_script('--input', path, '--num_steps=30', '--num_samples=30', env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        out = result.stdout.decode('utf-8')
        self.assertIn(f'vocab size: {len(set("".join(WORLD_NAMES))) + 1}', out)
        samples = ''.join(line.split(': ', 1)[1] for line in out.splitlines()
                          if line.startswith('sample'))
        self.assertTrue(set(samples) <= set(''.join(WORLD_NAMES)))
        self.assertTrue(any(ord(ch) > 127 for ch in samples))

    def test_twelve_layers_and_a_64_token_context_train_on_long_documents(self):
        rng = random.Random(3)
        path = self.dataset('\n'.join(''.join(rng.choice('abcdefgh') for _ in range(100))
                                      for _ in range(4)))
        result = run_script('--input', path, '--n_layer=12', '--block_size=64', '--n_embd=4',
                            '--n_head=2', '--num_steps=2', '--num_samples=1')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, b'')

    def test_the_input_file_is_never_written(self):
        path = pathlib.Path(self.dataset('\r\n'.join(WORLD_NAMES)))
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        self.train(str(path))
        self.assertEqual((path.read_bytes(), path.stat().st_mtime_ns), before)


class MissingNamesList(CommandLineTestCase):
    def test_without_network_it_says_what_to_do_and_leaves_no_file(self):
        shutil.copy(SCRIPT, self.tmp)  # microgpt.py copied alone, without input.txt
        env = {k: v for k, v in os.environ.items() if k.lower() != 'no_proxy'}
        # a proxy on a closed local port: the download is refused at once, as offline
        env.update(https_proxy='http://127.0.0.1:9', HTTPS_PROXY='http://127.0.0.1:9')
        result = run_script(script=str(self.tmp / 'microgpt.py'), env=env)
        lines = stderr_lines(result)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(len(lines), 2, lines)
        self.assertIn('downloading', lines[0])
        self.assertIn(microgpt.NAMES_URL, lines[1])
        self.assertIn('--input', lines[1])
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ['microgpt.py'])

    def download(self, source):
        target = self.tmp / 'input.txt'
        with mock.patch.object(microgpt, 'NAMES_URL', source.as_uri()), \
                contextlib.redirect_stderr(io.StringIO()):
            microgpt.download_names(str(target))
        return target

    def test_the_download_arrives_whole_under_its_name(self):
        target = self.download(NAMES)
        self.assertEqual(target.read_bytes(), NAMES.read_bytes())
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ['input.txt'])

    def test_a_download_that_is_not_the_names_list_is_refused_and_not_kept(self):
        wrong = self.tmp / 'page.html'
        wrong.write_text('<html>sign in to the train wifi</html>')
        with self.assertRaises(SystemExit):
            self.download(wrong)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ['page.html'])


@unittest.skipIf(os.name == 'nt', 'Ctrl-C is a POSIX signal here')
class CtrlC(CommandLineTestCase):
    def interrupt_when(self, seen, *args):
        """Start a run, press Ctrl-C once `seen` is printed, return (status, stderr)."""
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        proc = subprocess.Popen([sys.executable, SCRIPT, *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        out = b''
        while seen not in out:
            chunk = proc.stdout.read1(4096)
            self.assertTrue(chunk, 'the run ended before it could be interrupted')
            out += chunk
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err.decode().splitlines()

    def test_during_training_it_stops_with_one_line_and_status_130(self):
        status, lines = self.interrupt_when(b'step    3', '--num_steps=100000')
        self.assertEqual(status, 130)
        self.assertEqual(lines, ['microgpt.py: interrupted'])

    def test_during_sampling_it_stops_with_one_line_and_status_130(self):
        status, lines = self.interrupt_when(b'sample  2', '--num_steps=0', '--num_samples=100000')
        self.assertEqual(status, 130)
        self.assertEqual(lines, ['microgpt.py: interrupted'])


class Program(CommandLineTestCase):
    def test_import_defines_things_and_does_nothing_else(self):
        probe = ('import gc, random; state = random.getstate(); import microgpt; '
                 'assert random.getstate() == state and gc.isenabled()')
        env = dict(os.environ, PYTHONPATH=ROOT)
        result = subprocess.run([sys.executable, '-c', probe], cwd=self.tmp, env=env,
                                capture_output=True)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, b'', b''))
        self.assertEqual(list(self.tmp.iterdir()), [])

    def test_a_reader_that_stops_early_is_not_an_error(self):
        # like `python microgpt.py | head -1`: the pipe closes while samples are still coming
        proc = subprocess.Popen([sys.executable, SCRIPT, '--num_steps=0', '--block_size=1',
                                 '--n_embd=1', '--n_head=1', '--num_samples=20000'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
        proc.stderr.close()
        self.assertEqual(err, b'')
        self.assertNotEqual(proc.returncode, 0)


if __name__ == '__main__':
    unittest.main()
