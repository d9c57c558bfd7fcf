"""The script as people run it: options, datasets from anywhere, bad input,
a missing dataset without network, Ctrl-C, output that cannot be written, and
what a plain run imports. Most cases run microgpt.py in a subprocess, as a user
would, on a short run or a small model; those that only read a file given as
--input call main() in this process."""
import contextlib
import glob
import http.client
import io
import itertools
import os
import pathlib
import random
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest
from unittest import mock

import microgpt
from tests.harness import (DOCS, ROOT, SCRIPT, TINY, Folder, count_parameters, count_weights,
                           default_sigint, run_main, run_script, settings_with, text_of,
                           unprivileged, seconds)

NAMES = pathlib.Path(ROOT, 'input.txt')
SHORT = ['--num_steps=3', '--num_samples=3']
WORLD_NAMES = ['zoë', 'jürgen', 'straße', 'émile', '中文', '王芳', 'ana', 'ß']


def stderr_lines(result):
    return result.stderr.decode('utf-8').splitlines()


def weights_of(vocab_size, **settings):
    """How many weights a model of these settings (microgpt.settings, some changed) has."""
    return count_weights(vocab_size, settings_with(**settings))


def names_vocab_size():
    """The vocabulary size of the default dataset, BOS included."""
    return microgpt.build_tokenizer(microgpt.load_docs(str(NAMES))).vocab_size


def names_header():
    """The three lines a run on the default dataset and settings starts with."""
    return (f'num docs: {len(microgpt.load_docs(str(NAMES)))}\nvocab size: {names_vocab_size()}\n'
            f'num params: {count_parameters(names_vocab_size(), microgpt.settings)}\n')


class CommandLineTestCase(Folder):
    FOR_EACH_TEST, DATASET = True, None

    def setUp(self):
        super().setUp()
        random.seed(42)

    def assertRefused(self, args, *words, script=SCRIPT):
        """One line on stderr that names the problem, exit status 2, no traceback,
        and nothing on stdout: no training starts."""
        result = run_script(*args, script=script, timeout=120)
        lines = stderr_lines(result)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(result.stdout, b'')
        for word in words:
            self.assertIn(word, lines[0])

    def assertEachRefused(self, cases, script=SCRIPT):
        """assertRefused() of each (options, words) of a table, each a subtest."""
        for args, words in cases:
            with self.subTest(args):
                self.assertRefused(args, *words, script=script)

    def dataset(self, text, encoding='utf-8', name='data.txt'):
        return self.write(name, text.encode(encoding))


class Options(CommandLineTestCase):
    def test_help_lists_every_option_with_its_default(self):
        result = run_script('--help')
        self.assertEqual(result.returncode, 0)
        text = ' '.join(result.stdout.decode().split())  # undo argparse's line wrapping
        self.assertIn('--input FILE', text)
        self.assertIn(f'(default: {os.path.join(ROOT, "input.txt")})', text)
        for name, default in vars(microgpt.settings).items():
            with self.subTest(name):
                self.assertIn(f'--{name} ', text)
                if default != '':
                    self.assertIn(f'(default: {default})', text)

    def test_space_and_equals_forms_mean_the_same(self):
        spaced = run_script('--num_steps', '2', '--num_samples', '2', '--prompt', 'al')
        self.assertEqual((spaced.returncode, spaced.stderr), (0, b''))
        self.assertIn(b'step    2 /    2 | loss ', spaced.stdout)
        self.assertIn(b'\nsample  2: al', spaced.stdout)
        self.assertEqual(spaced.stdout,
                         run_script('--num_steps=2', '--num_samples=2', '--prompt=al').stdout)

    def test_the_default_input_is_found_from_any_directory(self):
        result = run_script('--num_steps=0', '--num_samples=0', cwd=self.folder)
        self.assertEqual(result.stdout.decode(), names_header() + '\n--- inference (new, '
                                                                  'hallucinated names) ---\n')
        self.assertEqual(list(self.folder.iterdir()), [])

    def test_zero_steps_sample_the_untrained_model_at_once(self):
        result = run_script('--num_steps=0')
        self.assertEqual((result.returncode, result.stderr), (0, b''))
        out = result.stdout.decode()
        self.assertTrue(out.startswith(names_header() + '\n--- inference'), out[:200])
        self.assertNotIn('step', out)
        self.assertEqual(out.count('\nsample '), microgpt.settings.num_samples)

    def test_an_empty_default_is_not_shown_in_help(self):
        status, stdout, _ = run_main('--help')
        self.assertEqual(status, 0)
        self.assertNotIn('(default: )', stdout)
        self.assertIn('(default: 0.5)', stdout)  # the control: a default that is shown

    def test_an_explicit_seed_without_load_runs_as_that_seed_by_default(self):
        args = ['--input', self.dataset(text_of(DOCS)), *TINY, '--num_steps=2']
        default, given = run_main(*args), run_main(*args, f'--seed={microgpt.settings.seed}')
        for status, stdout, stderr in (default, given):
            self.assertEqual((status, stderr), (0, ''), stdout[-300:])
        self.assertEqual(given[1], default[1])


class BadInput(CommandLineTestCase):
    def test_a_dataset_that_cannot_be_read_as_documents_is_refused_in_one_line(self):
        (self.folder / 'folder').mkdir()
        for what, args, words in [
            ('missing', ['--input', str(self.folder / 'nope.txt')], ['nope.txt', 'does not exist']),
            ('directory', ['--input', str(self.folder / 'folder')], ['folder', 'is a directory']),
            ('not UTF-8', ['--input', self.dataset('zoë\nana\n', 'latin-1', 'latin1.txt')],
             ['latin1.txt', 'not UTF-8']),
            ('empty', ['--input', self.dataset('', name='empty.txt')],
             ['empty.txt', 'no documents']),
            ('blank lines only', ['--input', self.dataset('\n  \n\t\r\n', name='blank.txt')],
             ['blank.txt', 'no documents']),
            ('a tab inside a line', ['--input', self.dataset('ana\nmary\tann\n', name='tab.txt')],
             ['tab.txt', "'\\t'", 'cannot be printed']),
            ('a device', ['--input', os.devnull], [os.devnull, 'device']),
            *[('a file of /proc, with no size to read to', ['--input', '/proc/version'],
               ['/proc/version', 'no documents'])] * os.path.exists('/proc/version'),
        ]:
            with self.subTest(what):
                self.assertRefused(args, *words)

    def test_a_malformed_option_is_refused_in_one_line(self):
        for option, *words in [  # the word given, then the words of its refusal
            ('--n_layr=2', 'unrecognized', '--n_layr'),
            ('stray', 'unrecognized', 'stray'),
            ('--n_layer', '--n_layer', 'expected one argument'),
            ('--n_layer=two', '--n_layer', 'whole number', "'two'"),
            ('--n_layer=1.5', '--n_layer', 'whole number', "'1.5'"),
            ('--seed=x', '--seed', 'whole number'),
            ('--temperature=warm', '--temperature', 'number', "'warm'"),
        ]:
            with self.subTest([option]):
                self.assertRefused([option], *words)

    def test_a_value_out_of_range_is_refused_in_one_line(self):
        self.assertEachRefused([
            (['--n_layer=0'], ['--n_layer', 'at least 1']),
            (['--n_embd=0'], ['--n_embd', 'at least 1']),
            (['--n_head=0'], ['--n_head', 'at least 1']),
            (['--block_size=0'], ['--block_size', 'at least 1']),
            (['--n_embd=10', '--n_head=4'], ['--n_embd=10', '--n_head=4', 'divisible']),
            (['--temperature=0'], ['--temperature', 'above 0']),
            (['--temperature=-1'], ['--temperature', 'above 0']),
            (['--learning_rate=0'], ['--learning_rate', 'above 0']),
            (['--learning_rate=nan'], ['--learning_rate', 'finite']),
            (['--learning_rate=inf'], ['--learning_rate', 'finite']),
            (['--temperature=-inf'], ['--temperature', 'finite']),
            (['--temperature=1e-310'], ['--temperature=1e-310', 'overflows']),
            (['--n_embd=100000', '--n_head=1'],
             [f'{weights_of(names_vocab_size(), n_embd=100000, n_head=1):,} weights', 'GiB']),
            (['--num_steps=-1'], ['--num_steps', 'at least 0']),
            (['--num_samples=-1'], ['--num_samples', 'at least 0']),
        ])

    def test_weights_thrown_too_far_by_the_last_step_are_caught_before_sampling(self):
        # one step: its loss is fine, but the update leaves weights whose scores overflow
        result = run_script('--learning_rate=1e308', '--num_steps=1')
        lines = stderr_lines(result)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('no longer give finite scores', lines[0])
        self.assertIn('--learning_rate', lines[0])
        self.assertNotIn(b'sample', result.stdout)
        self.assertTrue(result.stdout.endswith(b'\n'))

    def test_a_diverging_run_stops_at_the_step_where_it_diverges(self):
        for rate in ('100', '1e308'):
            with self.subTest(rate):
                result = run_script(f'--learning_rate={rate}', '--num_steps=50')
                lines = stderr_lines(result)
                shown = re.findall(r'step +(\d+) /', result.stdout.decode())  # finite losses
                self.assertEqual(result.returncode, 2)
                self.assertEqual(len(lines), 1, lines)
                self.assertIn(f'diverged at step {int(shown[-1]) + 1} ', lines[0])
                self.assertIn('--learning_rate', lines[0])
                self.assertNotIn(b'sample', result.stdout)
                self.assertTrue(result.stdout.endswith(b'\n'))

    def run_with_memory_limit(self, limit, *args):
        try:
            import resource
        except ImportError:
            self.skipTest('no resource limits here')
        def set_limit():  # as `ulimit -v` does
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True,
                              preexec_fn=set_limit, timeout=120)

    def test_a_model_too_big_for_the_memory_allowed_is_refused_with_an_estimate(self):
        result = self.run_with_memory_limit(10**9, '--n_embd=512', '--num_steps=1')
        lines = stderr_lines(result)
        self.assertEqual((result.returncode, result.stdout), (2, b''))
        self.assertEqual(len(lines), 1, lines)
        # about 200 bytes a weight, and 80 more at each position of a step's graph
        n = weights_of(names_vocab_size(), n_embd=512)
        need = n * (200 + 80 * microgpt.settings.block_size) / 2**30
        self.assertIn(f'a model of {n:,} weights needs about {need:,.0f} GiB of memory', lines[0])

    @unittest.skipUnless(sys.implementation.name == 'cpython',
                         'PyPy aborts when memory runs out instead of raising MemoryError')
    @seconds
    def test_running_out_of_memory_ends_in_one_line(self):
        path = self.folder / 'one-long-line.txt'
        path.write_bytes(b'ab' * 50_000_000)  # 100 MB in one document, under a 300 MB limit
        result = self.run_with_memory_limit(300 * 2**20, '--input', str(path), '--num_steps=1')
        lines = stderr_lines(result)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('out of memory', lines[0])


class Datasets(CommandLineTestCase):
    def train(self, path, *args):
        result = run_script('--input', path, *SHORT, *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.count(b'\nsample '), 3)
        return result.stdout

    def test_a_byte_order_mark_is_not_learned(self):
        plain = self.dataset('\n'.join(WORLD_NAMES), name='plain.txt')
        marked = self.dataset('\ufeff' + '\n'.join(WORLD_NAMES), name='marked.txt')
        vocab_size = len(set(''.join(WORLD_NAMES))) + 1
        self.assertIn(f'vocab size: {vocab_size}\n'.encode(), self.train(marked))
        self.assertEqual(self.train(marked), self.train(plain))

    @seconds
    def test_windows_and_old_mac_line_ends_train_like_unix_ones(self):
        unix = self.dataset('\n'.join(WORLD_NAMES) + '\n', name='unix.txt')
        for what, eol in [('CRLF', '\r\n'), ('CR', '\r')]:
            with self.subTest(what):
                other = self.dataset(eol.join(WORLD_NAMES) + eol, name=f'{what}.txt')
                self.assertIn(f'num docs: {len(WORLD_NAMES)}\nvocab size: '
                              f'{len(set("".join(WORLD_NAMES))) + 1}\n'.encode(), self.train(other))
                self.assertEqual(self.train(other), self.train(unix))

    def test_documents_are_stripped_of_spaces_and_tabs_around_them(self):
        path = self.dataset(' ana \n\tbob\t\n \t \n  zoë  \r\nmary ann\n')
        self.assertEqual(microgpt.load_docs(path), ['ana', 'bob', 'zoë', 'mary ann'])

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

    @seconds
    def test_twelve_layers_and_a_64_token_context_train_on_long_documents(self):
        rng = random.Random(3)
        path = self.dataset('\n'.join(''.join(rng.choice('abcdefgh') for _ in range(100))
                                      for _ in range(4)))
        result = run_script('--input', path, '--n_layer=12', '--block_size=64', '--n_embd=4',
                            '--n_head=2', '--num_steps=2', '--num_samples=1')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, b'')
        self.assertIn(b'step    2 /    2 | loss ', result.stdout)
        self.assertIn(b'\nsample  1: ', result.stdout)

    def test_the_input_file_is_never_written(self):
        path = pathlib.Path(self.dataset('\r\n'.join(WORLD_NAMES)))
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        self.assertIn(f'num docs: {len(WORLD_NAMES)}\n'.encode(), self.train(str(path)))
        self.assertEqual((path.read_bytes(), path.stat().st_mtime_ns), before)


    def test_a_file_that_cannot_be_read_is_named_in_one_line(self):
        user = unprivileged()  # root reads anything: the check runs as a user who may not
        if user is None:
            self.skipTest('no user without read permission can be arranged here')
        python, preexec_fn = user
        self.folder.chmod(0o755)
        script = shutil.copy(SCRIPT, self.folder)
        secret = pathlib.Path(self.dataset('ana\nbob\n', name='secret.txt'))
        secret.chmod(0o000)
        result = subprocess.run([python, script, '--input', str(secret)], capture_output=True,
                                preexec_fn=preexec_fn, timeout=60)
        lines = stderr_lines(result)
        self.assertEqual((result.returncode, result.stdout), (2, b''))
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('cannot read', lines[0])
        self.assertIn('Permission denied', lines[0])


class ADatasetFile(Folder):
    """What main() makes of a file given as --input, in this process."""
    def test_a_file_of_one_letter_and_no_line_end_is_a_dataset_of_one_document(self):
        path = self.write('one.txt', 'a')
        stdout = self.assertRanWell(run_main('--input', path, *TINY, '--num_steps=1'))
        self.assertIn('num docs: 1\n', stdout)

    def test_of_several_unprintable_characters_the_first_in_order_is_named(self):
        path = self.write('controls.txt', 'an\x02na\nbo\x01b\n')
        self.assertRefused(run_main('--input', path, *TINY), "holds '\\x01', a character")

    def test_a_link_to_nothing_is_refused_as_missing(self):
        link = self.path('dangling.txt')
        os.symlink(self.path('nowhere.txt'), link)
        self.assertRefused(run_main('--input', link, *TINY), 'does not exist')

    def test_a_block_device_is_no_dataset(self):
        with mock.patch.object(microgpt.stat, 'S_ISREG', return_value=False), \
                mock.patch.object(microgpt.stat, 'S_ISBLK', return_value=True):
            self.assertRefused(run_main('--input', self.names, *TINY), 'is a device')


class MissingNamesList(CommandLineTestCase):
    def test_without_network_it_says_what_to_do_and_leaves_no_file(self):
        shutil.copy(SCRIPT, self.folder)  # microgpt.py copied alone, without input.txt
        env = {k: v for k, v in os.environ.items() if k.lower() != 'no_proxy'}
        # a proxy on a closed local port: the download is refused at once, as offline
        env.update(https_proxy='http://127.0.0.1:9', HTTPS_PROXY='http://127.0.0.1:9')
        result = run_script(script=str(self.folder / 'microgpt.py'), env=env)
        lines = stderr_lines(result)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(len(lines), 2, lines)
        self.assertIn('downloading', lines[0])
        self.assertIn(microgpt.NAMES_URL, lines[1])
        self.assertIn('--input', lines[1])
        self.assertEqual(sorted(p.name for p in self.folder.iterdir()), ['microgpt.py'])

    def download(self, source):
        target = self.folder / 'input.txt'
        with mock.patch.object(microgpt, 'NAMES_URL', source.as_uri()), \
                contextlib.redirect_stderr(io.StringIO()):
            microgpt.download_names(str(target))
        return target

    def test_the_download_arrives_whole_under_its_name(self):
        target = self.download(NAMES)
        self.assertEqual(target.read_bytes(), NAMES.read_bytes())
        self.assertEqual(sorted(p.name for p in self.folder.iterdir()), ['input.txt'])
        self.assertEqual(stat.S_IMODE(target.stat().st_mode), 0o644)  # readable by all, as data

    def test_a_download_cut_off_halfway_leaves_no_file(self):
        class CutOff(io.BytesIO):
            def read(self, *args):
                raise http.client.IncompleteRead(b'emma\noli', 200000)
        with mock.patch('urllib.request.urlopen', lambda *a, **k: CutOff()), \
                contextlib.redirect_stderr(io.StringIO()) as err, \
                self.assertRaises(SystemExit) as e:
            microgpt.download_names(str(self.folder / 'input.txt'))
        self.assertEqual(e.exception.code, 2)
        self.assertIn('could not download', err.getvalue().splitlines()[-1])
        self.assertEqual(list(self.folder.iterdir()), [])

    def test_a_download_that_cannot_be_written_leaves_no_partial_file(self):
        full = OSError(28, 'No space left on device')
        with mock.patch('urllib.request.urlopen', lambda *a, **k: io.BytesIO(NAMES.read_bytes())), \
                mock.patch.object(microgpt.os, 'fdopen', side_effect=full), \
                contextlib.redirect_stderr(io.StringIO()) as err, self.assertRaises(SystemExit):
            microgpt.download_names(str(self.folder / 'input.txt'))
        self.assertIn('No space left on device', err.getvalue())
        self.assertEqual(list(self.folder.iterdir()), [])  # the temporary file is gone too

    def test_a_download_that_cannot_be_put_in_place_is_kept_whole_and_said_where(self):
        refused = PermissionError(1, 'Operation not permitted')
        with mock.patch('urllib.request.urlopen', lambda *a, **k: io.BytesIO(NAMES.read_bytes())), \
                mock.patch.object(microgpt.os, 'replace', side_effect=refused), \
                contextlib.redirect_stderr(io.StringIO()) as err, \
                self.assertRaises(SystemExit) as e:
            microgpt.download_names(str(self.folder / 'input.txt'))
        [kept] = self.folder.iterdir()
        self.assertEqual(e.exception.code, 1)
        self.assertIn(str(kept), err.getvalue().splitlines()[-1])
        self.assertEqual(kept.read_bytes(), NAMES.read_bytes())

    def test_a_download_that_is_not_the_names_list_is_refused_and_not_kept(self):
        wrong = self.folder / 'page.html'
        wrong.write_text('<html>sign in to the train wifi</html>')
        with self.assertRaises(SystemExit):
            self.download(wrong)
        self.assertEqual(sorted(p.name for p in self.folder.iterdir()), ['page.html'])


@unittest.skipIf(os.name == 'nt', 'Ctrl-C is a POSIX signal here')
class CtrlC(CommandLineTestCase):
    def interrupt_when(self, seen, *args):
        """Start a run, press Ctrl-C once `seen` is printed: (status, stdout, stderr lines).
        The child gets Python's usual SIGINT handling whatever this process has, and it
        never outlives the test, even when the test fails or times out."""
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        proc = subprocess.Popen([sys.executable, SCRIPT, *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                preexec_fn=default_sigint)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        out, deadline = b'', time.monotonic() + 60
        while seen not in out:
            self.assertLess(time.monotonic(), deadline, f'{seen!r} never came')
            if select.select([proc.stdout], [], [], 1)[0]:
                chunk = proc.stdout.read1(4096)
                self.assertTrue(chunk, 'the run ended before it could be interrupted')
                out += chunk
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
        return proc.returncode, out + rest, err.decode().splitlines()

    def test_during_training_it_stops_with_one_line_and_status_130(self):
        status, out, lines = self.interrupt_when(b'step    3', '--num_steps=100000')
        self.assertEqual(status, 130)
        self.assertEqual(lines, ['microgpt.py: interrupted'])
        self.assertTrue(out.endswith(b'\n'), out[-40:])  # the progress line is ended

    def test_during_sampling_it_stops_with_one_line_and_status_130(self):
        status, out, lines = self.interrupt_when(b'sample  2', '--num_steps=0',
                                                 '--num_samples=100000')
        self.assertEqual(status, 130)
        self.assertEqual(lines, ['microgpt.py: interrupted'])
        self.assertTrue(out.endswith(b'\n'))

    def test_a_pipe_for_a_dataset_is_refused_at_once_not_waited_on(self):
        # a pipe that nobody writes to would keep the run at its start for ever
        fifo = self.folder / 'fifo'
        os.mkfifo(fifo)
        result = run_script('--input', str(fifo), timeout=20)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(stderr_lines(result), [f'microgpt.py: error: {fifo} is not a regular '
                                                f'file; pass --input=FILE with a text file, one '
                                                f'document per line'])


class Output(CommandLineTestCase):
    """Output that cannot be written ends quietly or in one line, never in a
    traceback or an "Exception ignored" message."""

    # stdout buffered, as usual, or written through, as PYTHONUNBUFFERED=1 makes it
    BUFFERING = [{k: v for k, v in os.environ.items() if k != 'PYTHONUNBUFFERED'},
                 dict(os.environ, PYTHONUNBUFFERED='1')]

    def test_a_closed_stdout_ends_the_run_quietly(self):
        for env in self.BUFFERING:
            with self.subTest(unbuffered='PYTHONUNBUFFERED' in env):
                result = subprocess.run([sys.executable, SCRIPT, *SHORT], stderr=subprocess.PIPE,
                                        preexec_fn=lambda: os.close(1), timeout=60, env=env)
                self.assertEqual((result.returncode, result.stderr), (0, b''))

    @unittest.skipUnless(os.path.exists('/dev/full'), 'no /dev/full here')
    def test_stdout_on_a_full_disk_is_an_error_in_one_line(self):
        for env in self.BUFFERING:
            with self.subTest(unbuffered='PYTHONUNBUFFERED' in env), \
                    open('/dev/full', 'wb') as full:
                result = run_script(*SHORT, stdout=full, env=env)
                self.assertEqual(result.returncode, 1)
                self.assertEqual(stderr_lines(result), ['microgpt.py: error: cannot write the '
                                                        'output (No space left on device)'])

    @unittest.skipUnless(os.path.exists('/dev/full'), 'no /dev/full here')
    def test_help_on_a_full_disk_is_an_error_in_one_line(self):
        with open('/dev/full', 'wb') as full:
            result = run_script('--help', stdout=full, env=self.BUFFERING[0])
        self.assertEqual((result.returncode, stderr_lines(result)), (1, [
            'microgpt.py: error: cannot write the output (No space left on device)']))

    @unittest.skipUnless(os.path.exists('/dev/full'), 'no /dev/full here')
    def test_a_divergence_on_a_full_disk_keeps_its_status_and_its_one_line(self):
        with open('/dev/full', 'wb') as full:  # buffered: the output fails at the exit
            result = run_script('--learning_rate=1000', '--num_steps=20', stdout=full,
                                env=self.BUFFERING[0])
        self.assertEqual(result.returncode, 2)
        [line] = stderr_lines(result)
        self.assertIn('training diverged', line)

    @seconds
    def test_a_reader_that_stops_early_ends_quietly_or_in_one_line(self):
        # like `python microgpt.py | head -n 1` or `| true`: the pipe closes after a
        # line, or at once, while the rest is coming, or after it all came
        for args, lines_read, env in itertools.product(
                (SHORT, ['--num_steps=0', '--block_size=1', '--n_embd=1', '--n_head=1',
                         '--num_samples=20000']), (0, 1), self.BUFFERING):
            with self.subTest(args=args, lines_read=lines_read,
                              unbuffered='PYTHONUNBUFFERED' in env):
                proc = subprocess.Popen([sys.executable, SCRIPT, *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.addCleanup(proc.wait)
                self.addCleanup(proc.kill)
                for _ in range(lines_read):
                    self.assertEqual(proc.stdout.readline().decode(),
                                     names_header().splitlines(True)[0])
                proc.stdout.close()
                err = proc.stderr.read()
                proc.wait(timeout=60)
                proc.stderr.close()
                self.assertIn((proc.returncode, err), [
                    (0, b''), (1, b'microgpt.py: error: cannot write the output (Broken pipe)\n')])

    def test_a_reader_that_stops_early_ends_the_run_with_status_1_and_one_line(self):
        proc = subprocess.Popen([sys.executable, SCRIPT, '--input', self.dataset(text_of(DOCS)),
                                 *TINY, '--num_steps=0', '--num_samples=100000'],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read()
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        self.assertEqual((status, err), (1, b'microgpt.py: error: cannot write the output '
                                            b'(Broken pipe)\n'))


class Program(CommandLineTestCase):
    def test_import_defines_things_and_does_nothing_else(self):
        probe = ('import gc, random; state = random.getstate(); import microgpt; '
                 'assert random.getstate() == state and gc.isenabled(); '
                 'print(sorted(n for n in ("Value", "gpt", "sample", "main") '
                 'if hasattr(microgpt, n)))')
        env = dict(os.environ, PYTHONPATH=ROOT)
        result = subprocess.run([sys.executable, '-c', probe], cwd=self.folder, env=env,
                                capture_output=True)
        self.assertEqual((result.returncode, result.stdout, result.stderr),
                         (0, b"['Value', 'gpt', 'main', 'sample']\n", b''))
        self.assertEqual(list(self.folder.iterdir()), [])
    def test_a_run_that_neither_saves_nor_loads_never_imports_hashlib(self):  # 3 MB of memory
        code = ('import runpy, sys; sys.argv = sys.argv[1:]; '  # the script, then its options
                'runpy.run_path(sys.argv[0], run_name="__main__"); print("hashlib" in sys.modules)')
        names = self.dataset(text_of(DOCS))
        for extra, imported in (([], 'False'), (['--save', str(self.folder / 'h.json')], 'True')):
            with self.subTest(extra=extra):
                result = subprocess.run([sys.executable, '-c', code, SCRIPT, '--input', names,
                                         *TINY, '--num_steps=1', *extra], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(result.stdout.decode().split()[-1], imported, result.stderr)

    def test_main_in_a_notebook_ignores_the_kernels_own_arguments(self):
        # a notebook's sys.argv holds its kernel's options; main() must not parse them
        kernel = ['ipykernel_launcher.py', '-f', '/tmp/kernel-1.json']
        with mock.patch.object(sys, 'argv', kernel), \
                mock.patch.object(microgpt, 'train_step', return_value=3.0), \
                contextlib.redirect_stdout(io.StringIO()) as out:
            random_state = microgpt.random.getstate()
            try:
                microgpt.main()
            finally:
                microgpt.random.setstate(random_state)
        self.assertTrue(out.getvalue().startswith(names_header()))
        self.assertIn(f'\nsample {microgpt.settings.num_samples:2d}: ', out.getvalue())

    def test_python_older_than_3_8_is_told_in_one_line(self):
        old = sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.[67].*/bin/python3')))
        if not old:
            self.skipTest('no Python 3.6 or 3.7 here')
        result = subprocess.run([old[-1], SCRIPT], capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, b'')
        self.assertRegex(result.stderr.decode(), r'\Amicrogpt.py: error: needs Python 3.8 or '
                                                 r'newer, not 3\.[67]\.\d+\n\Z')

    @unittest.skipUnless(hasattr(os, 'wait4'), 'peak memory is read from wait4 here')
    @seconds
    def test_memory_stays_small_on_every_interpreter(self):
        # a graph a step; kept alive by a paused collector on PyPy, they would add up
        proc = subprocess.Popen([sys.executable, SCRIPT, '--num_steps=100', '--num_samples=0'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        self.assertEqual(status, 0)
        peak_mib = usage.ru_maxrss / 1024 / (1024 if sys.platform == 'darwin' else 1)
        self.assertLess(peak_mib, 200)


class Benchmark(CommandLineTestCase):
    def test_bad_options_get_one_line(self):
        benchmark = os.path.join(ROOT, 'tests', 'benchmark.py')
        self.assertEachRefused([(['--runs=0'], ['--runs', 'at least 1']),
                                (['--runs=x'], ['--runs']),
                                (['--against=no-such-revision'], ['no-such-revision']),
                                (['--python=/no/such/python'], ['/no/such/python']),
                                (['--bogus'], ['--bogus'])], script=benchmark)


if __name__ == '__main__':
    unittest.main()
