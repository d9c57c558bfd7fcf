"""How a run stops and goes on. The first stop signal (Ctrl-C, SIGTERM, SIGHUP)
ends a run at its last whole step and those after it wait, also while a file is
written; the run exits with the signal's number in one line that names the step
saved and the command that goes on from it; that command keeps every option the
run was given but the defaults; and a run loaded from a checkpoint goes on from
it, or only samples it and saves the same file. Most tests call main() or its
helpers in this process on a tiny model; a few start the script for a moment, to
see its signal handlers, or bash, to paste the resume command into."""
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import unittest
from types import SimpleNamespace
from unittest import mock

import microgpt
from tests.harness import SCRIPT, TINY, DOCS, CheckpointFolder, Folder, run_main, text_of


class Signals(CheckpointFolder):
    """The first stops the run, later ones wait; a signal ignored at the start stays so;
    while a file is written, every stop signal waits."""
    def stop(self, signum):
        """stop_on_signal() as the first signal calls it: the KeyboardInterrupt it raises."""
        for each in microgpt.STOP_SIGNALS:
            self.addCleanup(signal.signal, each, signal.getsignal(each))
        self.addCleanup(signal.pthread_sigmask, signal.SIG_SETMASK,
                        signal.pthread_sigmask(signal.SIG_BLOCK, []))
        with self.assertRaises(KeyboardInterrupt) as caught:
            microgpt.stop_on_signal(signum, None)
        return caught.exception

    def test_the_first_stop_signal_stops_the_run_naming_itself(self):
        self.assertEqual(self.stop(signal.SIGHUP).args, (signal.SIGHUP,))

    def test_after_the_first_stop_signal_every_stop_signal_waits(self):
        self.stop(signal.SIGINT)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        self.assertLessEqual(set(microgpt.STOP_SIGNALS), blocked)

    def test_after_the_first_stop_signal_every_stop_signal_does_nothing(self):
        self.stop(signal.SIGTERM)
        for signum in microgpt.STOP_SIGNALS:
            with self.subTest(signal.Signals(signum).name):
                handler = signal.getsignal(signum)
                self.assertTrue(callable(handler), handler)  # neither the default nor SIG_IGN
                self.assertIsNone(handler(signum, None))  # no KeyboardInterrupt: the save goes on

    def handlers_once_started(self, ignored=()):
        """The script's handler of SIGHUP, SIGINT and SIGTERM while it runs (on --help), and
        after it has run, when it was started with the signals `ignored` ignored."""
        code = textwrap.dedent('''
            import runpy, signal, sys
            ignored = [int(s) for s in sys.argv[2:]]
            for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)
            def handler(signum):
                h = signal.getsignal(signum)
                names = {signal.SIG_IGN: 'ignored', signal.SIG_DFL: 'default'}
                return names.get(h, getattr(h, '__name__', h))
            def during(*args):  # --help prints its text while the script runs
                print(handler(signal.SIGHUP), handler(signal.SIGINT), handler(signal.SIGTERM),
                      file=sys.stderr)
            import argparse
            argparse.ArgumentParser.format_help = during
            sys.argv = [sys.argv[1], '--help']
            try:
                runpy.run_path(sys.argv[0], run_name='__main__')
            except SystemExit:
                pass
            print(handler(signal.SIGHUP), handler(signal.SIGINT), handler(signal.SIGTERM),
                  file=sys.stderr)
        ''')
        args = [str(int(signum)) for signum in ignored]
        result = subprocess.run([sys.executable, '-c', code, SCRIPT, *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, timeout=60)
        during, after = result.stderr.decode().splitlines()
        return during.split(), after.split()

    def test_the_script_handles_every_stop_signal_while_it_runs(self):
        self.assertEqual(self.handlers_once_started()[0], ['stop_on_signal'] * 3)

    def test_the_script_leaves_the_handlers_as_it_found_them_as_jupyters_run_needs(self):
        self.assertEqual(self.handlers_once_started()[1], ['default'] * 3)

    def test_the_script_leaves_a_signal_ignored_as_nohup_does(self):
        self.assertEqual(self.handlers_once_started([signal.SIGHUP])[0],
                         ['ignored', 'stop_on_signal', 'stop_on_signal'])

    def test_the_stop_signals_wait_while_the_file_is_written_and_not_after(self):
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        blocked, real_replace = [], os.replace
        def replace(*args):
            blocked.extend(signal.pthread_sigmask(signal.SIG_BLOCK, []))
            return real_replace(*args)
        with mock.patch.object(microgpt.os, 'replace', side_effect=replace):
            microgpt.save(self.path('written.json'), microgpt.checkpoint_text(self.ck()))
        self.assertTrue(set(microgpt.STOP_SIGNALS) <= set(blocked), blocked)
        self.assertEqual(signal.pthread_sigmask(signal.SIG_BLOCK, []), before)

    def test_a_write_that_cannot_start_leaves_the_signals_as_they_were(self):
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        with self.assertRaises(OSError):
            microgpt.write_whole(self.path(os.path.join('no folder', 'x.json')), b'{}')
        self.assertEqual(signal.pthread_sigmask(signal.SIG_BLOCK, []), before)


class WhatAStopSaves(CheckpointFolder):
    """The last whole step, named in the one line the run exits with."""
    def test_ctrl_c_saves_the_last_finished_step(self):
        stderr = self.stopped('ctrl-c.json', steps=5, stop_at=2)
        self.assertIn('step 2 of 5 is saved', stderr)
        self.assertEqual(self.read_json('ctrl-c.json')['step'], 2)

    def test_a_stop_by_sigterm_says_so_and_exits_with_its_number(self):
        with mock.patch.object(microgpt, 'train_step',
                               side_effect=[2.5, KeyboardInterrupt(signal.SIGTERM)]):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', self.path('term.json'))
        self.assertEqual(status, 128 + signal.SIGTERM, stderr)
        self.assertTrue(stderr.startswith('microgpt.py: interrupted by SIGTERM; step 1 of 5 '),
                        stderr)

    def test_a_stop_while_a_step_is_being_checkpointed_names_the_step_saved(self):
        real, calls = microgpt.checkpoint, []
        def checkpoint(run, config):  # the first call is before training, the third after step 2
            calls.append(run['step'])
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(run, config)
        save = self.path('stopped.json')
        with mock.patch.object(microgpt, 'checkpoint', side_effect=checkpoint):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', save)
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        with open(save, encoding='utf-8') as f:
            self.assertEqual(json.load(f)['step'], 1)
        self.assertIn('; step 1 of 5 is saved in ', stderr)

    def test_a_stop_in_the_middle_of_an_update_saves_the_step_before_it(self):
        self.stopped('at start.json')  # stopped before step 3 began
        at_start = self.path('at start.json')
        real, done = microgpt.train_step, []
        def train_step(*args):  # step 3 moves the weights, then the signal lands
            loss = real(*args)
            done.append(args[1])
            if len(done) == 3:
                raise KeyboardInterrupt
            return loss
        midway = self.path('midway.json')
        with mock.patch.object(microgpt, 'train_step', side_effect=train_step):
            status, _, stderr = run_main('--input', self.names, *TINY, '--num_steps=5',
                                         '--save', midway)
        self.assertEqual(status, 128 + signal.SIGINT, stderr)
        with open(at_start, encoding='utf-8') as want, open(midway, encoding='utf-8') as got:
            self.assertEqual(json.load(got), json.load(want))


class GoingOnFromACheckpoint(CheckpointFolder):
    def test_a_run_resumed_on_a_copy_of_its_dataset_records_the_copy(self):
        copy = self.path('copy of names.txt')
        shutil.copy(self.names, copy)
        new = self.path('resumed.json')
        self.assertRanWell(run_main('--load', self.ck_path, '--input', copy, '--save', new))
        self.assertEqual(self.read_json('resumed.json')['dataset']['path'], os.path.abspath(copy))

    def test_sampling_a_checkpoint_with_save_writes_the_same_checkpoint(self):
        new = self.path('sampled.json')
        self.assertRanWell(run_main('--load', self.ck_path, '--num_steps=0', '--save', new))
        with open(new, encoding='utf-8') as f:
            self.assertSame(f.read(), self.ck_text, 'the checkpoint written')

    def test_an_unfinished_checkpoint_only_sampled_is_saved_unchanged(self):
        self.stopped('half.json')
        path, again = self.path('half.json'), self.path('half again.json')
        self.assertRanWell(run_main('--load', path, '--num_steps=0', '--save', again))
        with open(path, encoding='utf-8') as before, open(again, encoding='utf-8') as after:
            self.assertEqual(after.read(), before.read())

    def test_a_checkpoint_whose_dataset_is_gone_is_sampled_and_saved_over_itself(self):
        gone = self.write('gone.txt', text_of(DOCS))
        ck = self.path('gone.json')
        self.assertRanWell(run_main('--input', gone, *TINY, '--num_steps=1', '--save', ck))
        os.remove(gone)
        self.assertRanWell(run_main('--load', ck, '--num_steps=0', '--save', ck))

    def test_seed_0_with_load_draws_the_samples_of_seed_0(self):
        stdout = self.assertRanWell(run_main('--load', self.ck_path, '--num_steps=0', '--seed=0'))
        run = microgpt.read_checkpoint(self.ck_path)
        config = SimpleNamespace(**{**vars(microgpt.settings), **run['settings']})
        random.seed(0)
        want = [microgpt.sample(run['state_dict'], run['tokenizer'], config)
                for _ in range(config.num_samples)]
        got = [line.split(': ', 1)[1] for line in stdout.replace('\r', '\n').splitlines()
               if line.startswith('sample ')]
        self.assertEqual(got, want)


class TheResumeCommand(Folder):
    """The "go on with:" command of an interrupted run."""
    def config(self, **changes):
        defaults = {name: option.default for name, option in microgpt.OPTIONS.items()}
        return SimpleNamespace(**{**defaults, 'save': 'ck.json', 'reseed': None, **changes})

    def resume_words(self, *args):
        config, _ = microgpt.configure(['--input', self.names, '--save', self.path('r.json'),
                                        *args])
        with mock.patch.object(sys, 'argv', ['microgpt.py']):  # as the script is started
            return shlex.split(microgpt.resume_command(config))

    def test_it_starts_with_the_interpreter_s_name_and_the_script(self):
        self.assertEqual(self.resume_words()[:2],
                         [os.path.basename(sys.executable), 'microgpt.py'])

    def test_it_loads_and_saves_the_checkpoint_by_the_name_given(self):
        words = self.resume_words()
        self.assertEqual(words[2:4],
                         ['--load=' + self.path('r.json'), '--save=' + self.path('r.json')])

    def test_a_prompt_is_kept(self):
        self.assertIn('--prompt=an', self.resume_words('--prompt=an'))

    def test_report_is_kept(self):
        self.assertIn('--report', self.resume_words('--report'))

    def test_a_sampling_option_given_at_its_default_is_left_out(self):
        words = self.resume_words(f'--temperature={microgpt.settings.temperature}')
        self.assertFalse([w for w in words if w.startswith('--temperature')], words)

    def test_sampling_options_at_their_defaults_are_left_out_and_others_kept_even_0(self):
        words = microgpt.resume_command(self.config(num_samples=0)).split()
        self.assertIn('--num_samples=0', words)
        self.assertFalse([w for w in words if w.startswith(('--temperature', '--prompt'))], words)

    def test_the_resume_command_keeps_a_seed_of_0(self):
        self.assertIn('--seed=0', microgpt.resume_command(self.config(reseed=0)).split())

    def test_on_windows_it_is_quoted_for_cmd_exe(self):
        with mock.patch.object(microgpt.os, 'name', 'nt'):
            command = microgpt.resume_command(self.config(save='C:\\runs\\a b.json'))
        self.assertIn('"--load=C:\\runs\\a b.json"', command)

    def test_pasted_into_a_posix_shell_it_gives_back_every_word(self):
        bash = shutil.which('bash')
        if not bash:
            self.skipTest('needs bash')
        for save in ("it's.json", 'a b.json', 'back\\slash.json', 'zoë.json', '$HOME;x.json'):
            with self.subTest(save=save):
                command = microgpt.resume_command(self.config(save=save))
                got = subprocess.run([bash, '-c', 'printf "%s\\n" ' + command],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=10)
                self.assertEqual(got.stdout.decode().split('\n')[2:4],
                                 ['--load=' + save, '--save=' + save])


if __name__ == '__main__':
    unittest.main()
